"""Write the generated half of the paper: numbers.tex, the tables, studies.tex, figures.tex and
provenance.json (paper/main.tex, written by hand, \\inputs them)."""

from __future__ import annotations

from pathlib import Path

from groklab import io
from groklab.analysis.claims import NOT_RUN
from groklab.analysis.ladder import NO_FACTOR
from groklab.paper.figures import pdf_name
from groklab.paper.latex import escape, format_value, macro_name, macros, table
from groklab.paper.numbers import (CLAIM_COLUMNS, DEFAULT_CLAIMS, FORECAST_SETS, LEADLAG_COLUMNS, LEADLAG_ROWS, Context, Number,
                      evaluate_all, paper_numbers)
from groklab.paper.provenance import records
from groklab.paper.targets import (CLAIMS_TEX, FIGURES_DIR, FIGURES_TEX, FORECAST_TEX, INTERVENTIONS_TEX, LADDER_TEX,
                                   LEADLAG_TEX, NUMBERS_TEX, PROVENANCE_JSON, STUDIES_TEX, speedups_tex as speedups_file)
from groklab.vocabulary import HMM_STATE

METRIC_LABELS = {"grok_examples": "grok", "grok_step": "grok step", "grok_pct": "grok \\%",
                 "delay_examples": "delay", "delay": "delay", "delay_pct": "delay \\%"}


def _not_run(ctx: Context) -> list[Number]:
    """Claims main.tex quotes that this config does not measure: macros saying so, with a record."""
    measured = {c["name"] for c in ctx.paper["claims"] if c["study"] in ctx.studies
                and c["variant"] in ctx.studies[c["study"]][1]}
    names = [c["name"] for c in ctx.paper["claims"]] + list(DEFAULT_CLAIMS)
    out = []
    for name in dict.fromkeys(n for n in names if n not in measured):
        for col, fmt in CLAIM_COLUMNS.items():
            text = fmt == "text"        # the verdicts: "not run"
            for key in (f"claims/{name}/{col}", macro_name("claim", name, col)):
                out.append(Number(key, "constant", {"value": NOT_RUN if text else None,
                                                    "why": "the claim's study or variant is not in the matrix"},
                                  [], [], "text" if text else "ratio"))
    return out


def _with_ci(v: dict[str, str], key: str) -> str:
    lo, hi = v.get(f"{key}_lo", "--"), v.get(f"{key}_hi", "--")
    return v[key] if lo == "--" else f"{v[key]} [{lo}, {hi}]"


def claims_tex(ctx: Context, text: dict[str, str]) -> str:
    rows = []
    for c in ctx.paper["claims"]:
        t = {col: text[f"claims/{c['name']}/{col}"] for col in CLAIM_COLUMNS}
        rows.append([escape(c["description"] or c["name"]), METRIC_LABELS[c["metric"]],
                     "slower" if c["claimed"] is None else f"{t['claimed']}$\\times$",
                     _with_ci(t, "ratio"), t["ratio_steps"], t["ratio_pct"], t["grokked_fraction"], t["verdict"],
                     t["verdict_replicate"], t["baseline_delay_ratio"], t["seed_delay_ratio"]])
    header = ["Claim (seed paper)", "Metric", "Seed", "Ours [CI]", "steps", "\\% budget", "Grokked", "Verdict",
              "Replicate", "Delay / mem.", "Seed's"]
    level = round(100 * ctx.paper["confidence"])
    caption = (f"The seed paper's headline results against this matrix. Ours: baseline / variant of the metric "
               f"(above 1 = faster) in examples of the operation seen (steps times its examples per step), "
               f"mean over seeds, {level}\\% bootstrap interval over seeds; the same ratio in steps and in \\% of "
               f"each cell's budget beside it. Never-grokked runs count as censored at the budget. Grokked: "
               f"fraction of the variant's seeds that generalised. Replicate: the verdict of the same comparison "
               f"retrained with other seeds and another train/test split (\\emph{{unstable}} when the two verdicts "
               f"differ; \\emph{{not run}} without a replicate). Delay / mem.: the baseline's delay over its "
               f"memorisation step (median over seeds, in steps), beside the seed baseline's.")
    return table(header, rows, "p{3.4cm}llllllp{2.0cm}p{1.6cm}ll", caption, "tab:claims", fit=True)


def speedups_tex(ctx: Context, study: str, text: dict[str, str]) -> str:
    base, variants, desc = ctx.studies[study]
    rows = []
    for cell in [base, *variants]:
        for op in ctx.cells[cell]["config"]["task"]["operations"]:
            t = {k.rsplit("/", 1)[1]: v for k, v in text.items() if k.startswith(f"speedups/{study}/{cell}/{op}/")}
            rows.append([escape(cell), escape(op), t["grokked_fraction"], _with_ci(t, "grok_step"), t["grok_pct"],
                         _with_ci(t, "delay"), _with_ci(t, "speedup_grok_examples"), t["speedup_grok_step"],
                         t["speedup_grok_pct"], _with_ci(t, "speedup_delay_examples"), t["final_test_acc"],
                         t["stable_fraction"]])
    header = ["Cell", "Op", "Grokked", "Grok step [CI]", "Grok \\%", "Delay [CI]", "$\\times$ examples [CI]",
              "$\\times$ steps", "$\\times$ \\% budget", "$\\times$ delay [CI]", "Test acc", "Stable"]
    caption = (f"Study \\texttt{{{escape(study)}}}{': ' + escape(desc) if desc else ''}. Means over seeds with "
               f"{round(100 * ctx.paper['confidence'])}\\% bootstrap intervals over seeds (never-grokked runs at "
               f"the budget); speedups are baseline / variant of the grok "
               f"step in examples of the operation seen (steps times its examples per step), in steps and in \\% of "
               f"each cell's budget, and of the delay (grok - memorisation) in examples seen.")
    return "{\\setlength{\\tabcolsep}{2.5pt}\n" + table(header, rows, "llllrllllllr", caption,
                                                       f"tab:speedups-{study}", fit=True) + "}\n"


def leadlag_tex(text: dict[str, str]) -> str:
    rows = [[text[f"leadlag/{r}/{c}"] for c in LEADLAG_COLUMNS] for r in range(LEADLAG_ROWS)
            if f"leadlag/{r}/observable" in text and text[f"leadlag/{r}/runs"] != "--"]
    header = ["Observable", "Runs", "Median lead", "Lead / delay", "Leads in", "Sign agrees", "Effect size"]
    caption = ("Observables that change before grokking, over every grokked run of every study: the change point of a "
               "two-segment fit to each smoothed trajectory after memorisation; lead = grok step - change step (steps, "
               "and as a fraction of the delay); the fraction of runs in which the observable leads; the fraction whose "
               "shift has the majority sign; the median shift in pooled standard deviations.")
    return table(header, rows, "lrrrrrr", caption, "tab:leadlag", fit=True)


def forecast_tex(text: dict[str, str]) -> str:
    from groklab.analysis.forecast import CUTOFFS

    names = {"observables": "observables", "hmm_occupancy": "HMM state occupancy", "train_accuracy": "train accuracy only",
             "median": "median (baseline)"}
    rows = [[f"{round(100 * c)}\\%", names[f], text.get(f"forecast/{round(100 * c)}/{f}/log_grok", "--"),
             text.get(f"forecast/{round(100 * c)}/{f}/grokked", "--")] for c in CUTOFFS for f in FORECAST_SETS]
    caption = ("Forecasting a run from its first 10/20/30\\% of the budget, leave-one-cell-out cross-validation over the "
               "matrix: mean absolute error of log10 grok step (grokked runs; ridge regression) and accuracy of "
               "\\emph{groks within budget} (logistic regression), against the training folds' median / majority. "
               "HMM state occupancy: the fraction of the run up to the cut-off spent in each state of the matrix "
               "map (its states refitted in every fold without the held-out cell), and the state at the cut-off.")
    return table(["Cut-off", "Features", "MAE log10 step", "Accuracy groks"], rows, "llrr", caption, "tab:forecast")


def ladder_table_tex(ctx: Context, text: dict[str, str]) -> str:
    rows = []
    for c in ctx.paper["claims"]:
        for rung in ctx.rungs:
            t = {col: text[f"ladder/{c['name']}/{rung.label}/{col}"] for col in ("factor", "baseline_delay",
                 "baseline_delay_ratio", "ratio", "ratio_lo", "ratio_hi", "verdict")}
            rows.append([escape(c["name"]), escape(rung.label), t["factor"], t["baseline_delay"], t["baseline_delay_ratio"],
                         _with_ci(t, "ratio"), t["verdict"]])
    key = text["LadderKey"]
    caption = (f"Each claim at every rung of the delay ladder: \\texttt{{{key}}} multiplied by the rung's factor in "
               f"every cell of the claim's study. Baseline delay: the baseline's median delay in steps (never-grokked "
               f"seeds at the budget) and its delay over its memorisation step; ours: baseline / variant of the "
               f"claim's metric with its bootstrap interval over seeds, and the verdict at that rung.")
    return table(["Claim", "Rung", "Factor", "Baseline delay", "Delay / mem.", "Ours [CI]", "Verdict"], rows,
                 "llrrrlp{3.2cm}", caption, "tab:ladder")


def trend_sentence(ctx: Context, claim: dict, text: dict[str, str], values: dict) -> str:
    """One sentence: is the claim's trend, carried to the target delay, consistent with the seed's factor?"""
    name, key = claim["name"], f"ladder_trend/{claim['name']}/"
    t = {col: text[key + col] for col in ("rungs", "slope", "slope_lo", "slope_hi", "target_delay", "predicted",
                                         "predicted_lo", "predicted_hi", "claimed", "consistent")}
    consistent, head = values[key + "consistent"], f"\\texttt{{{escape(name)}}}: "
    if ctx.study_of(claim) is None:
        return head + "not run (its study or variant is not in this matrix)."
    trend = (f"the trend over {t['rungs']} rungs (slope {t['slope']} [{t['slope_lo']}, {t['slope_hi']}]) carried to "
             f"{t['target_delay']} steps predicts {t['predicted']}$\\times$ [{t['predicted_lo']}, {t['predicted_hi']}]")
    if consistent in ("yes", "no"):
        verb = "is consistent" if consistent == "yes" else "is not consistent"
        return head + f"{trend}; the seed's {t['claimed']}$\\times$ {verb} with it."
    fitted = values[key + "slope"] == values[key + "slope"]
    if consistent == NO_FACTOR:
        return head + (f"{trend}" if fitted else f"no trend yet ({t['rungs']} usable rungs)") + \
            "; the seed reports no factor, only that the variant is slower."
    return head + (f"{t['consistent']} ({t['rungs']} usable), so nothing is carried to {t['target_delay']} steps yet "
                   f"against the seed's {t['claimed']}$\\times$.")


def ladder_tex(ctx: Context, text: dict[str, str], values: dict, figures: dict[str, str]) -> str:
    """The section "Speedup against the delay": the ladder table, one sentence per claim, the figure."""
    parts = [ladder_table_tex(ctx, text), " ".join(trend_sentence(ctx, c, text, values) for c in ctx.paper["claims"]), ""]
    parts += [figure_tex(p, cap, f"fig:{Path(p).stem}") for p, cap in figures.items()]
    return "\n".join(parts) + "\n"


def figure_tex(path: str, caption: str, label: str) -> str:
    return "\n".join([r"\begin{figure}[htbp]", r"\centering", f"\\includegraphics[width=\\textwidth]{{{path}}}",
                      f"\\caption{{{caption}}}", f"\\label{{{label}}}", r"\end{figure}", ""])


EFFECT = {"is faster": "faster", "is slower": "slower", "shows no clear change": "no clear change",
          "is not measurable": "--"}


def direction(lo: float, hi: float) -> str:
    """A speedup interval in words: the whole interval above 1, below 1, or straddling it."""
    if lo > 1:
        return "is faster"
    if hi < 1:
        return "is slower"
    return "shows no clear change" if lo == lo and hi == hi else "is not measurable"


def _fired(values: dict, prefix: str) -> str:
    """For an intervention cell: in how many seeds its rule fired (an unfired rule changes nothing)."""
    frac, n = values.get(prefix + "intervention_fired_fraction"), values.get(prefix + "n_seeds")
    if frac is None or frac != frac or not n:
        return ""
    return f" (the rule fired in {round(frac * n)} of {n} seeds)"


def verdicts_tex(ctx: Context, study: str, text: dict[str, str], values: dict[str, object]) -> str:
    """One generated sentence per variant: its speedup (grok step in examples seen) and its direction."""
    base, variants, _ = ctx.studies[study]
    parts = []
    for cell in variants:
        for op in ctx.cells[cell]["config"]["task"]["operations"]:
            key = f"speedups/{study}/{cell}/{op}/speedup_grok_examples"
            if key not in values or values[key] is None or values[key] != values[key]:
                continue
            lo, hi = values[key + "_lo"], values[key + "_hi"]
            ci = "" if lo != lo else f" [{text[key + '_lo']}, {text[key + '_hi']}]"
            parts.append(f"\\texttt{{{escape(cell)}}} ({escape(op)}) {direction(lo, hi)}: "
                         f"{text[key]}$\\times${ci}{_fired(values, f'speedups/{study}/{cell}/{op}/')}")
    if not parts:
        return ""
    return ("Against \\texttt{" + escape(base) + "} (grok step in examples of the operation seen, baseline / variant): "
            + "; ".join(parts) + ".")


def rule_text(rule: dict) -> str:
    """An intervention rule in LaTeX: its condition -> its settings."""
    if rule["when"] == HMM_STATE:
        cond = ("enters the matrix map's detour state" if rule["state"] == "detour"
                else f"enters matrix-map state {rule['state']}")
    else:
        above = rule["above"] is not None
        sign, level = (r"$\geq$", rule["above"]) if above else (r"$\leq$", rule["below"])
        cond = f"{escape(rule['when'])} {sign} {level:g}"
    sets = [f"{k} " + (", ".join(f"{op} {w:g}" for op, w in v.items()) if k == "data_mix" else f"{v:g}")
            for k, v in rule["set"].items()]
    return cond + r" $\rightarrow$ " + escape("; ".join(sets))


def interventions_tex(ctx: Context, text: dict[str, str], values: dict) -> str:
    """Every intervention variant of every study: its rules, in how many seeds they fired, its
    speedup (grok step in examples seen) with interval, and the direction in words."""
    rows = []
    for study, (base, variants, _) in ctx.studies.items():
        for cell in variants:
            rules = ctx.cells[cell]["config"]["training"]["interventions"]
            for op in ctx.cells[cell]["config"]["task"]["operations"] if rules else []:
                key = f"speedups/{study}/{cell}/{op}/"
                if key + "speedup_grok_examples" not in text:
                    continue
                n = values.get(key + "n_seeds") or 0
                fired = values.get(key + "intervention_fired_fraction")
                effect = direction(values[key + "speedup_grok_examples_lo"], values[key + "speedup_grok_examples_hi"])
                rows.append([escape(study), escape(cell), escape(op), "; ".join(rule_text(r) for r in rules),
                             "--" if fired is None or fired != fired else f"{round(fired * n)}/{n}",
                             text[f"speedups/{study}/{base}/{op}/grokked_fraction"], text[key + "grokked_fraction"],
                             _with_ci(text, key + "speedup_grok_examples"), EFFECT[effect]])
    header = ["Study", "Cell", "Op", "Rule", "Fired", "Grokked (base)", "Grokked", "$\\times$ examples [CI]", "Effect"]
    caption = ("Interventions on training signals against their study's baseline: the rule (once per model, from the "
               "eval where its condition holds), the seeds in which it fired, the fraction of seeds that grokked in the "
               "baseline and with the rule, and the speedup of the grok step in examples seen (baseline / variant) with "
               "its bootstrap interval (never-grokked runs count at the budget, so two cells that never grok compare as "
               "1); \\emph{faster} or \\emph{slower} only when the whole interval lies above or below 1.")
    return table(header, rows, "lllp{4.6cm}rrrll", caption, "tab:interventions", fit=True)


def studies_tex(ctx: Context, figures: dict[str, dict[str, str]], text: dict[str, str], values: dict) -> str:
    """One subsection per study: its table, a generated sentence per variant and its figures
    (figures: study -> {tex path: caption})."""
    out = []
    for study, (_, _, desc) in ctx.studies.items():
        out += [f"\\subsection{{Study \\texttt{{{escape(study)}}}}}", escape(desc) + ("." if desc else ""),
                verdicts_tex(ctx, study, text, values), "", f"\\input{{generated/tables/speedups-{study}}}"]
        out += [figure_tex(p, cap, f"fig:{Path(p).stem}") for p, cap in figures.get(study, {}).items()]
    return "\n".join(out) + "\n"


def build(ctx: Context, out_dir: str, figures: dict, global_figures: dict[str, str], job: dict) -> list[Number]:
    """Evaluate every number and write <out_dir>/{numbers.tex, tables/*, studies.tex, figures.tex, ladder.tex, provenance.json}
    (groklab.paper.targets.generated_files: the list the workflow declares as outputs)."""
    numbers = paper_numbers(ctx) + _not_run(ctx)
    evaluate_all(numbers)
    text = {n.name: format_value(n.value, n.fmt) for n in numbers}
    out = Path(out_dir)
    io.write_text(out / NUMBERS_TEX, macros({k: v for k, v in text.items() if "/" not in k}))
    io.write_text(out / CLAIMS_TEX, claims_tex(ctx, text))
    for study in ctx.studies:
        io.write_text(out / speedups_file(study), speedups_tex(ctx, study, text))
    io.write_text(out / LEADLAG_TEX, leadlag_tex(text))
    io.write_text(out / FORECAST_TEX, forecast_tex(text))
    values = {n.name: n.value for n in numbers}
    io.write_text(out / INTERVENTIONS_TEX, interventions_tex(ctx, text, values))
    io.write_text(out / STUDIES_TEX, studies_tex(ctx, figures, text, values))
    ladder = f"generated/{FIGURES_DIR}/{pdf_name('ladder')}"     # drawn in its own section, not with the others
    io.write_text(out / LADDER_TEX, ladder_tex(ctx, text, values, {p: c for p, c in global_figures.items() if p == ladder}))
    io.write_text(out / FIGURES_TEX, "\n".join(figure_tex(p, c, f"fig:{Path(p).stem}")
                                                 for p, c in global_figures.items() if p != ladder))
    io.write_json(out / PROVENANCE_JSON, records(numbers, text, job))
    return numbers
