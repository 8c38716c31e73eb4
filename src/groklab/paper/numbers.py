"""Every number the paper quotes, defined once as a query over result files.

`paper_numbers(ctx)` lists the Numbers (macros and table cells) for a config's matrix;
`evaluate_all` runs their queries; groklab.paper.build turns them into numbers.tex, the
tables and provenance.json. Speedups, claims, lead-lag and forecast numbers read a cell of the
table their own rule wrote (Context.tables; queries.table_cell); a table number's inputs are the
table, then the run files behind that number (so a changed run is still named by the audit).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from groklab.config.cells import validate
from groklab.config.matrix import REPLICATE, Rung, copy_name, rungs_of
from groklab.paper.latex import macro_name
from groklab.paper.provenance import Number
from groklab.paper.queries import evaluate

# Claims main.tex quotes by name: always defined ("not run" when the config has no such claim).
DEFAULT_CLAIMS = ("sgd", "diversity", "sparse", "divmul", "divadd", "divsub")
CLAIM_COLUMNS = {"ratio": "ratio", "ratio_lo": "ratio", "ratio_hi": "ratio", "ratio_steps": "ratio",
                 "ratio_pct": "ratio", "claimed": "ratio", "grokked_fraction": "frac", "n_seeds": "int", "verdict": "text",
                 "verdict_primary": "text", "verdict_replicate": "text", "ratio_replicate": "ratio",
                 "ratio_replicate_lo": "ratio", "ratio_replicate_hi": "ratio", "baseline_delay": "int",
                 "baseline_delay_ratio": "ratio", "seed_delay_ratio": "ratio"}
# the delay ladder: ladder/<claim>/<rung>/<column> and ladder_trend/<claim>/<column>
LADDER_COLUMNS = {"factor": "num", "baseline_delay": "int", "baseline_delay_ratio": "ratio", "ratio": "ratio",
                  "ratio_lo": "ratio", "ratio_hi": "ratio", "n_seeds": "int", "verdict": "text"}
TREND_COLUMNS = {"rungs": "int", "slope": "num", "slope_lo": "num", "slope_hi": "num", "target_delay": "int",
                 "predicted": "ratio", "predicted_lo": "ratio", "predicted_hi": "ratio", "claimed": "ratio",
                 "consistent": "text"}
# the seed paper's baseline (paper.seed_baseline) as main.tex quotes it: macro -> (quantity, format)
SEED_QUANTITIES = {"SeedDelay": ("delay", "int"), "SeedGrokPct": ("grok_pct", "pct"), "SeedBudget": ("budget", "int"),
                   "SeedGrokStep": ("grok_step", "int"), "SeedMemStep": ("memorisation_step", "int"),
                   "SeedDelayRatio": ("delay_ratio", "ratio")}
SPEEDUP_COLUMNS = {"grokked_fraction": "frac", "stable_fraction": "frac", "grok_step": "int", "grok_step_lo": "int",
                   "grok_step_hi": "int", "grok_pct": "pct", "delay": "int", "delay_lo": "int", "delay_hi": "int",
                   "final_test_acc": "frac", "n_seeds": "int", "intervention_fired_fraction": "frac"}
for _m in ("grok_examples", "grok_step", "grok_pct", "delay_examples", "delay"):
    SPEEDUP_COLUMNS |= {f"speedup_{_m}": "ratio", f"speedup_{_m}_lo": "ratio", f"speedup_{_m}_hi": "ratio"}


@functools.lru_cache(maxsize=None)
def _training_provenance(config_json: str) -> dict:
    """Where a cell was trained, from its config.json (the Slurm job id is None on a local run)."""
    path = Path(config_json)
    prov = json.loads(path.read_text()).get("provenance", {}) if path.exists() else {}
    return {"slurm_job_id": prov.get("slurm_job_id"), "trained_by_rule": prov.get("rule")}


# the tables the numbers read, under results_dir (rules speedup_tables and mechanics)
TABLES = {"speedups": "tables/speedups.parquet", "claims": "tables/claims.parquet",
          "ladder": "tables/ladder.parquet", "ladder_trend": "tables/ladder_trend.parquet",
          "leadlag": "mechanics/leadlag.parquet", "forecast": "mechanics/forecast.parquet"}


def _cell(table: str, where: dict, column: str, **kw) -> dict:
    return {"table": table, "where": where, "column": column, **kw}


@dataclass
class Context:
    results: str                                    # results_dir, relative to the working directory
    cells: dict[str, dict]                          # name -> cell record (groklab.config.matrix.cell_record)
    studies: dict[str, tuple[str, list[str], str]]  # name -> (baseline, variants, description)
    paper: dict                                     # config["paper"], defaults filled
    hmm: dict | None = None                         # config["hmm"]: the forecast's state-occupancy set
    tables: dict[str, str] | None = None            # speedups/claims/ladder/... -> parquet (default: TABLES)
    ladder: dict | None = None                      # config["ladder"] (None: its default, the one primary rung)
    robustness: dict | None = None                  # config["robustness"]: None, no replicate

    @property
    def rungs(self) -> list[Rung]:
        return rungs_of(self.ladder if self.ladder is not None else validate({"ladder": {}})["ladder"])

    def study_of(self, claim: dict) -> tuple[str, str] | None:
        """(baseline, variant) of a claim this matrix measures; None: not run."""
        study = self.studies.get(claim["study"])
        return (study[0], claim["variant"]) if study is not None and claim["variant"] in study[1] else None

    def copies(self, cells: list[str], name) -> list[str]:
        """The copies name(cell) of `cells` that this matrix has (a rung's or the replicate's)."""
        return [name(c) for c in cells if name(c) in self.cells]

    def table(self, name: str) -> str:
        """The parquet file another rule wrote (the numbers rule lists it as an input)."""
        return (self.tables or {}).get(name) or f"{self.results}/{TABLES[name]}"

    @property
    def matrix_map(self) -> str:
        return f"{self.results}/hmm/_matrix/model.json"

    def run_dir(self, cell: str) -> str:
        return f"{self.results}/runs/{self.cells[cell]['id']}"

    def run_inputs(self, cells: list[str]) -> list[str]:
        return [f"{self.run_dir(c)}/{f}" for c in dict.fromkeys(cells) for f in ("metrics.parquet", "config.json")]

    def cell_refs(self, cells: list[str]) -> list[dict]:
        """The cells behind a number: id, config hash, seeds and where each was trained."""
        return [{"name": c, "id": self.cells[c]["id"], "hash": self.cells[c]["hash"],
                 "seeds": list(self.cells[c]["config"]["training"]["seeds"]), **self._trained(c)}
                for c in dict.fromkeys(cells)]

    def _trained(self, cell: str) -> dict:
        return _training_provenance(f"{self.run_dir(cell)}/config.json")

    @property
    def stats_args(self) -> dict:
        p = self.paper
        return {"confidence": p["confidence"], "n_boot": p["bootstrap"], "seed": p["bootstrap_seed"]}

    @property
    def baseline(self) -> str | None:
        return self.paper["baseline"] or next((b for b, _, _ in self.studies.values()), None) or next(iter(self.cells))

    def progress_cell(self, figure: str = "progress") -> str | None:
        from groklab.paper.figures import progress_cell

        return progress_cell(self.paper, {n: c["config"]["task"]["operations"] for n, c in self.cells.items()}, figure)


def _setup_numbers(ctx: Context) -> list[Number]:
    base = ctx.baseline
    cfg = f"{ctx.run_dir(base)}/config.json"
    keys = {"P": "task.p", "TrainFraction": "task.train_fraction", "DModel": "model.d_model",
            "NLayers": "model.n_layers", "NHeads": "model.n_heads", "DMlp": "model.d_mlp", "Lr": "optimizer.lr",
            "WeightDecay": "optimizer.weight_decay", "Steps": "training.steps", "EvalEvery": "training.eval_every",
            "Seeds": "training.seeds"}
    out = [Number(f"Setup{k}", "config_value", {"config_json": cfg, "key": key}, [cfg], ctx.cell_refs([base]),
                   "num" if k in ("Lr", "WeightDecay", "TrainFraction") else "int") for k, key in keys.items()]
    out.append(Number("SetupBatch", "batch_mode", {"config_json": cfg}, [cfg], ctx.cell_refs([base]), "text"))
    dirs, names = [ctx.run_dir(c) for c in ctx.cells], list(ctx.cells)
    for what in ("cells", "models"):
        out.append(Number(macro_name("setup", "n", what), "count", {"run_dirs": dirs, "what": what},
                          ctx.run_inputs(names), ctx.cell_refs(names), "int"))
    obs = f"{ctx.run_dir(base)}/observables.parquet"
    out.append(Number("SetupNObservables", "observable_count", {"observables": obs}, [obs], ctx.cell_refs([base]), "int"))
    return out


def _baseline_numbers(ctx: Context) -> list[Number]:
    base = ctx.baseline
    op = ctx.cells[base]["config"]["task"]["operations"][0]
    cols = {"MemStep": ("memorisation_step", "int"), "GrokStep": ("grok_step", "int"),
            "GrokStepLo": ("grok_step_lo", "int"), "GrokStepHi": ("grok_step_hi", "int"),
            "GrokPct": ("grok_pct", "pct"), "Delay": ("delay", "int"), "DelayLo": ("delay_lo", "int"),
            "DelayHi": ("delay_hi", "int"), "DelayPct": ("delay_pct", "pct"), "FinalAcc": ("final_test_acc", "frac"),
            "Grokked": ("grokked_fraction", "frac"), "Budget": ("budget", "int")}
    args = {"run_dir": ctx.run_dir(base), "operation": op, **ctx.stats_args}
    return [Number(f"Baseline{k}", "cell_stat", args | {"column": col}, ctx.run_inputs([base]),
                   ctx.cell_refs([base]), fmt) for k, (col, fmt) in cols.items()]


def claim_numbers(ctx: Context, claim: dict) -> list[Number]:
    """Table cells claims/<name>/<column> and macros Claim<Name><Column> of one claim."""
    measured = ctx.study_of(claim)
    if measured is None:
        return []       # not run: build.py prints the row and macros as "not run"
    cells = list(measured)
    if ctx.robustness is not None:     # the replicate's columns read its copies' runs
        cells += ctx.copies(cells, lambda c: copy_name(c, REPLICATE))
    table = ctx.table("claims")
    inputs, refs = [table, *ctx.run_inputs(cells)], ctx.cell_refs(cells)
    out = []
    for col, fmt in CLAIM_COLUMNS.items():
        for name in (f"claims/{claim['name']}/{col}", macro_name("claim", claim["name"], col)):
            out.append(Number(name, "table_cell", _cell(table, {"claim": claim["name"]}, col), inputs, refs, fmt))
    return out


def ladder_numbers(ctx: Context) -> list[Number]:
    """Table cells ladder/<claim>/<rung>/<column> (each claim at each rung), ladder_trend/<claim>/<column>
    (its trend), and the macros LadderTargetDelay, LadderKey and Seed* (paper.seed_baseline) that main.tex quotes."""
    ladder, trend, out = ctx.table("ladder"), ctx.table("ladder_trend"), []
    every = []
    for claim in ctx.paper["claims"]:
        measured = ctx.study_of(claim)
        claim_cells = []
        for rung in ctx.rungs:
            cells = ctx.copies(list(measured), rung.name) if measured else []
            claim_cells += cells
            inputs, refs = [ladder, *ctx.run_inputs(cells)], ctx.cell_refs(cells)
            where = {"claim": claim["name"], "rung": rung.label}
            out += [Number(f"ladder/{claim['name']}/{rung.label}/{col}", "table_cell", _cell(ladder, where, col),
                           inputs, refs, fmt) for col, fmt in LADDER_COLUMNS.items()]
        inputs, refs = [trend, ladder, *ctx.run_inputs(claim_cells)], ctx.cell_refs(claim_cells)
        out += [Number(f"ladder_trend/{claim['name']}/{col}", "table_cell", _cell(trend, {"claim": claim["name"]}, col),
                       inputs, refs, fmt) for col, fmt in TREND_COLUMNS.items()]
        every += claim_cells
    out.append(Number("LadderTargetDelay", "table_cell", _cell(trend, {}, "target_delay", missing="nan"),
                      [trend, ladder, *ctx.run_inputs(every)], ctx.cell_refs(every), "int"))
    key = (ctx.ladder or validate({"ladder": {}})["ladder"])["key"]
    out.append(Number("LadderKey", "constant", {"value": key, "why": "ladder.key of the config"}, [], [], "text"))
    seed = ctx.paper["seed_baseline"]
    out += [Number(name, "seed_baseline", {**seed, "quantity": q}, [], [], fmt) for name, (q, fmt) in SEED_QUANTITIES.items()]
    return out


def speedup_numbers(ctx: Context, study: str) -> list[Number]:
    """Table cells speedups/<study>/<cell>/<operation>/<column> of one study."""
    base, variants, _ = ctx.studies[study]
    table, out = ctx.table("speedups"), []
    for cell in [base, *variants]:
        inputs, refs = [table, *ctx.run_inputs([base, cell])], ctx.cell_refs([base, cell])
        for op in ctx.cells[cell]["config"]["task"]["operations"]:
            where = {"study": study, "cell": cell, "operation": op}
            out += [Number(f"speedups/{study}/{cell}/{op}/{col}", "table_cell", _cell(table, where, col), inputs, refs, fmt)
                    for col, fmt in SPEEDUP_COLUMNS.items()]
    return out


def _hmm_numbers(ctx: Context) -> list[Number]:
    out = []
    for study, (base, variants, _) in ctx.studies.items():
        model = f"{ctx.results}/hmm/{study}/model.json"
        out.append(Number(macro_name("hmm", study, "k"), "hmm_k", {"model_json": model}, [model],
                          ctx.cell_refs([base, *variants]), "text"))
    if ctx.hmm is not None:
        out.append(Number("HmmMatrixK", "hmm_k", {"model_json": ctx.matrix_map}, [ctx.matrix_map],
                          ctx.cell_refs(list(ctx.cells)), "text"))
    else:                 # main.tex quotes it: say that there is no matrix map
        out.append(Number("HmmMatrixK", "constant", {"value": None, "why": "no cell records observables: no matrix map"},
                          [], [], "int"))
    return out


# the phase ends and the Fourier evidence that main.tex quotes for each progress figure's model;
# the addition model's macros have no infix (PhaseCleanupEnd), the division model's "Division"
PHASE_QUOTES = {"progress": ("", "addition"), "progress-division": ("division", "division")}
PHASE_KEYS = {"memorisation": "end", "circuit_formation": "end", "cleanup": "end",
              "restricted_fall": "step", "test_fall": "step", "excluded_peak": "step"}


def _phase_numbers(ctx: Context) -> list[Number]:
    out = []
    for figure, (infix, task) in PHASE_QUOTES.items():
        names = {k: macro_name("phase", *([infix] if infix else []), k, suffix) for k, suffix in PHASE_KEYS.items()}
        cell = ctx.progress_cell(figure)
        if cell is None:      # main.tex quotes the phases: say that no such cell was trained
            out += [Number(n, "constant", {"value": None, "why": f"no {task} cell"}, [], [], "int") for n in names.values()]
            continue
        tr = ctx.cells[cell]["config"]["training"]
        run = ctx.run_dir(cell)
        args = {"run_dir": run, "seed": tr["seeds"][0],
                "thresholds": {k: tr[k] for k in ("memorise_threshold", "grok_threshold")}}
        inputs = [f"{run}/metrics.parquet", f"{run}/observables.parquet"]
        out += [Number(n, "phase_step", args | {"phase": k}, inputs, ctx.cell_refs([cell]), "int") for k, n in names.items()]
    return out


LEADLAG_COLUMNS = {"observable": "text", "runs": "int", "median_lead": "int", "median_lead_fraction": "frac",
                   "leads_fraction": "frac", "sign_consistency": "frac", "median_effect_size": "num"}
LEADLAG_ROWS = 10
FORECAST_SETS = ("observables", "hmm_occupancy", "train_accuracy", "median")
FORECAST_TARGETS = {"log_grok": "Mae", "grokked": "Accuracy"}
FORECAST_CUTOFF = 0.2     # the cut-off main.tex quotes


def _mechanics_inputs(ctx: Context, cells: list[str]) -> list[str]:
    return ctx.run_inputs(cells) + [f"{ctx.run_dir(c)}/observables.parquet" for c in cells]


def leadlag_numbers(ctx: Context) -> list[Number]:
    """Table cells leadlag/<rank>/<column> of the ranking over every study's cells, and Lead* macros."""
    cells = sorted({c for b, v, _ in ctx.studies.values() for c in (b, *v)})
    if not cells:          # main.tex quotes the leader: say that there is no study to rank
        return [Number(macro_name("lead", "top", col), "constant", {"value": None, "why": "no study in the matrix"},
                       [], [], "int") for col in ("observable", "median_lead", "leads_fraction", "median_lead_fraction")]
    from groklab.analysis.mechanics import ALL

    table = ctx.table("leadlag")
    inputs, refs = [table, *_mechanics_inputs(ctx, cells)], ctx.cell_refs(cells)

    def args(rank, col):   # rank: the row's position in the ranking over every study (0 = the best leader)
        return _cell(table, {"study": ALL}, col, position=rank, missing="none" if col == "observable" else "nan")
    out = [Number(f"leadlag/{rank}/{col}", "table_cell", args(rank, col), inputs, refs, fmt)
           for rank in range(LEADLAG_ROWS) for col, fmt in LEADLAG_COLUMNS.items()]
    out += [Number(macro_name("lead", "top", col), "table_cell", args(0, col), inputs, refs,
                   LEADLAG_COLUMNS[col]) for col in ("observable", "median_lead", "leads_fraction", "median_lead_fraction")]
    return out


def forecast_numbers(ctx: Context) -> list[Number]:
    """Table cells forecast/<cutoff %>/<features>/<target> over every cell, and Forecast* macros."""
    from groklab.analysis.forecast import CUTOFFS

    cells, table = list(ctx.cells), ctx.table("forecast")
    inputs, refs, out = [table, *_mechanics_inputs(ctx, cells)], ctx.cell_refs(cells), []
    if ctx.hmm is not None:         # the state-occupancy set refits the matrix map's K states in every fold
        inputs = inputs + [ctx.matrix_map]
    for cutoff in CUTOFFS:
        for feats in FORECAST_SETS:
            for target, word in FORECAST_TARGETS.items():
                # a feature set the mechanics rule left out (no matrix map: no state occupancy) prints "--"
                args = _cell(table, {"cutoff": cutoff, "features": feats, "target": target}, "value", missing="nan")
                out.append(Number(f"forecast/{round(100 * cutoff)}/{feats}/{target}", "table_cell", args, inputs, refs, "frac"))
                if cutoff == FORECAST_CUTOFF:
                    out.append(Number(macro_name("forecast", feats, word), "table_cell", args, inputs, refs, "frac"))
    return out


def paper_numbers(ctx: Context) -> list[Number]:
    out = _setup_numbers(ctx) + _baseline_numbers(ctx) + _hmm_numbers(ctx) + _phase_numbers(ctx)
    out += leadlag_numbers(ctx) + forecast_numbers(ctx) + ladder_numbers(ctx)
    for claim in ctx.paper["claims"]:
        out += claim_numbers(ctx, claim)
    for study in ctx.studies:
        out += speedup_numbers(ctx, study)
    return out


def evaluate_all(numbers: list[Number]) -> None:
    for n in numbers:
        n.value = evaluate(n.query, n.args)

