"""The compute half of the figures (groklab.analysis.figure_data) on small synthetic result files:
each table holds the plotted data, round-trips through Parquet, and its draw half draws it."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from groklab import io
from groklab.analysis.figure_data import compute
from groklab.analysis.figure_data.leadlag_runs import LEADLAG_BINS
from groklab.analysis.mechanics import ALL
from groklab.paper.figures import FIGURES


def runs_rows(cell, grok, mem=20, budget=200, op="add"):
    return pd.DataFrame([{"cell": cell, "seed": i, "operation": op, "budget": budget, "eval_every": 10, "examples_per_step": 1.0,
                          "memorisation_step": mem, "grok_step": np.nan if g is None else float(g),
                          "grokked": g is not None, "stable": g is not None, "diverged": False}
                         for i, g in enumerate(grok)])


@pytest.fixture
def results(tmp_path):
    """Two cells x 2 seeds: metrics, observables (a rising and a falling observable), runs summary."""
    steps = np.arange(0, 210, 10)
    files = {}
    for cell_id, grok in (("a-1", [100, 120]), ("b-2", [None, 150])):
        rows_m, rows_o = [], []
        for seed in (0, 1):
            g = grok[seed] or 1e9
            acc = np.clip((steps - 20) / 80, 0, 1)
            test = (steps >= g).astype(float)
            rows_m.append(pd.DataFrame({"seed": seed, "step": steps, "train_acc": acc, "test_acc": test,
                                        "test_acc/add": test, "test_acc/sub": test * 0.5,
                                        "train_loss": 1.0 - acc * 0.9, "test_loss": 2.0 - test}))
            rows_o.append(pd.DataFrame({"seed": seed, "step": steps, "weights.sum_sq[W_E]": 100.0 - steps / 5,
                                        "weights.sum_sq[W_U]": 90.0 - steps / 4,
                                        "fourier.embed_gini": np.tanh(steps / 100.0)}))
        d = tmp_path / "runs" / cell_id
        d.mkdir(parents=True)
        pd.concat(rows_m).to_parquet(d / "metrics.parquet")
        pd.concat(rows_o).to_parquet(d / "observables.parquet")
    pd.concat([runs_rows("a", [100, 120]), runs_rows("b", [None, 150])]).to_parquet(tmp_path / "runs.parquet")
    files["metrics"] = [str(tmp_path / "runs" / c / "metrics.parquet") for c in ("a-1", "b-2")]
    files["observables"] = [str(tmp_path / "runs" / c / "observables.parquet") for c in ("a-1", "b-2")]
    files["runs"] = str(tmp_path / "runs.parquet")
    return SimpleNamespace(**files)


CELLS = {"a-1": "a", "b-2": "b"}


def roundtrip_and_draw(tmp_path, module, table, **draw):
    """Write the table as the workflow does, read it back, draw it: the draw half needs nothing else."""
    io.write_parquet(tmp_path / f"{module}.parquet", table)
    back = pd.read_parquet(tmp_path / f"{module}.parquet")
    pd.testing.assert_frame_equal(back, table.reset_index(drop=True), check_dtype=False)
    import importlib

    importlib.import_module(f"groklab.paper.plots.{module}").draw(back, str(tmp_path / f"{module}.pdf"), **draw)
    assert (tmp_path / f"{module}.pdf").read_bytes().startswith(b"%PDF")
    return back


def test_every_figure_module_has_both_halves():
    import importlib

    for f in FIGURES.values():
        assert callable(importlib.import_module(f"groklab.analysis.figure_data.{f.module}").compute)
        assert callable(importlib.import_module(f"groklab.paper.plots.{f.module}").draw)


def test_accuracy_has_seeds_means_and_grok_steps(results, tmp_path):
    t = compute("accuracy", results, CELLS)
    a = t[t.cell == "a"]
    assert len(a[(a.kind == "seed") & (a.curve == "test_acc")]) == 2 * 21
    mean = a[(a.kind == "mean") & (a.curve == "test_acc")].set_index("step")["value"]
    assert mean[110] == 0.5 and mean[120] == 1.0                 # seed 0 grokked at 100, seed 1 at 120
    assert sorted(t.loc[t.kind == "grok", "step"]) == [100, 120, 150]    # b's seed 0 never grokked
    roundtrip_and_draw(tmp_path, "accuracy", t, study="s")


def test_hmm_map_and_selection(tmp_path):
    m = {"K": 2, "states": [{"occupancy": 0.7}, {"occupancy": 0.3}],
         "edges": [{"source": 0, "target": 1, "probability": 0.25}]}
    (tmp_path / "map.json").write_text(json.dumps(m))
    pd.DataFrame({"K": [1, 2, 3], "bic": [3.0, 1.0, 2.0], "aic": [3.0, 1.5, 2.5],
                  "heldout_ll_per_obs": [-2.0, -1.0, -1.1]}).to_parquet(tmp_path / "selection.parquet")
    inputs = SimpleNamespace(map=str(tmp_path / "map.json"), selection=str(tmp_path / "selection.parquet"))
    t = compute("hmm_map", inputs)
    assert t[t.kind == "state"]["value"].tolist() == [0.7, 0.3]
    assert t[t.kind == "edge"][["source", "target", "value"]].values.tolist() == [[0, 1, 0.25]]
    roundtrip_and_draw(tmp_path, "hmm_map", t, study="s")
    sel = compute("hmm_selection", inputs)
    assert (sel.chosen_k == 2).all() and sel.K.tolist() == [1, 2, 3]
    roundtrip_and_draw(tmp_path, "hmm_selection", sel)


def test_speedups_keep_variants_and_close_missing_bounds(tmp_path):
    row = {"study": "s", "operation": "add", "speedup_grok_examples": 2.0, "speedup_grok_examples_lo": np.nan,
           "speedup_grok_examples_hi": 3.0, "speedup_delay_examples": 4.0, "speedup_delay_examples_lo": 3.0,
           "speedup_delay_examples_hi": 5.0}
    pd.DataFrame([{**row, "role": "baseline", "cell": "base"}, {**row, "role": "variant", "cell": "v"},
                  {**row, "role": "variant", "cell": "w", "speedup_grok_examples": np.nan}]).to_parquet(tmp_path / "sp.parquet")
    t = compute("speedups", SimpleNamespace(speedups=str(tmp_path / "sp.parquet")))
    assert t.label.tolist() == ["v"] and t.speedup_grok_examples_lo.tolist() == [2.0]
    roundtrip_and_draw(tmp_path, "speedups", t)
    empty = compute("speedups", SimpleNamespace(speedups=str(tmp_path / "sp.parquet")))[:0]
    roundtrip_and_draw(tmp_path, "speedups", empty)


def test_per_operation_means_and_grok_steps(results, tmp_path):
    runs = pd.concat([runs_rows("a", [100, 120], op="add"), runs_rows("a", [None, None], op="sub")])
    runs.to_parquet(tmp_path / "runs2.parquet")
    inputs = SimpleNamespace(metrics=results.metrics[:1], runs=str(tmp_path / "runs2.parquet"))
    t = compute("per_operation", inputs, CELLS)
    assert set(t.operation) == {"add", "sub"}
    assert t[t.kind == "grok"][["operation", "step"]].values.tolist() == [["add", 110.0]]
    roundtrip_and_draw(tmp_path, "per_operation", t)


def test_observable_figures_align_grokked_runs(results, tmp_path):
    traj = compute("trajectories", results, CELLS, ["weights.sum_sq", "fourier.embed_gini", "not.recorded"])
    assert traj.loc[traj.kind == "panel", "observable"].tolist() == ["weights.sum_sq", "fourier.embed_gini"]
    assert set(map(tuple, traj.loc[traj.kind == "run", ["cell", "seed"]].drop_duplicates().values)) == {
        ("a", 0.0), ("a", 1.0), ("b", 1.0)}                   # the three grokked runs
    med = traj[(traj.kind == "median") & (traj.observable == "weights.sum_sq")].set_index("bin")["progress"]
    assert med[0.0] == pytest.approx(0.0) and med[1.0] == pytest.approx(1.0)   # linear: 0 at memorisation, 1 at grok
    roundtrip_and_draw(tmp_path, "trajectories", traj)
    heat = compute("lead_heatmap", results, CELLS)
    assert set(heat.observable) == {"weights.sum_sq", "fourier.embed_gini"} and heat["rank"].max() == 1
    roundtrip_and_draw(tmp_path, "lead_heatmap", heat)


def test_figures_without_grokked_runs_say_so(results, tmp_path):
    runs_rows("a", [None, None]).to_parquet(tmp_path / "never.parquet")
    inputs = SimpleNamespace(observables=results.observables[:1], runs=str(tmp_path / "never.parquet"))
    assert compute("lead_heatmap", inputs, CELLS).empty
    roundtrip_and_draw(tmp_path, "lead_heatmap", compute("lead_heatmap", inputs, CELLS))
    traj = compute("trajectories", inputs, CELLS, ["weights.sum_sq"])
    assert set(traj.kind) == {"panel"}
    roundtrip_and_draw(tmp_path, "trajectories", traj)


def test_leadlag_runs_z_scores_the_top_observables(results, tmp_path):
    pd.DataFrame({"study": [ALL, ALL, "s"], "observable": ["weights.sum_sq", "fourier.embed_gini", "x"]}).to_parquet(
        tmp_path / "leadlag.parquet")
    inputs = SimpleNamespace(leadlag=str(tmp_path / "leadlag.parquet"), observables=results.observables, runs=results.runs)
    t = compute("leadlag_runs", inputs, CELLS)
    assert t.loc[t.kind == "panel", "observable"].tolist() == ["weights.sum_sq", "fourier.embed_gini"]
    assert t.loc[t.kind == "grok"].sort_values("row")["x"].tolist() == [100, 120, 150]   # rows sorted by grok step
    assert (t.kind == "edge").sum() == LEADLAG_BINS + 1
    z = t[(t.kind == "z") & (t.observable == "weights.sum_sq")]
    assert len(z) == 3 * LEADLAG_BINS and z["value"].abs().max() < 2.5
    roundtrip_and_draw(tmp_path, "leadlag_runs", t)


def test_phase_diagram_labels_cells_by_their_axes(tmp_path):
    labels = {f"lr~{lr}__wd~{wd}": {"lr": lr, "wd": wd} for lr in ("0.001", "0.01") for wd in ("0.1", "1")}
    rows = [runs_rows(c, [None, None] if c == "lr~0.001__wd~0.1" else [50, 70], budget=1000) for c in labels]
    pd.concat(rows).to_parquet(tmp_path / "runs.parquet")
    t = compute("phase_diagram", SimpleNamespace(runs=str(tmp_path / "runs.parquet")), {"x": "lr", "y": "wd"}, labels)
    never = t.set_index("cell").loc["lr~0.001__wd~0.1"]
    assert not never.grokked and never.grok == 1000 and (never.x, never.y, never.facet) == ("0.001", "0.1", "")
    assert t.grokked.sum() == 3
    roundtrip_and_draw(tmp_path, "phase_diagram", t, axes={"x": "lr", "y": "wd"})


def test_progress_curves_and_phases(results, tmp_path):
    inputs = SimpleNamespace(metrics=results.metrics[:1], observables=results.observables[:1])
    t = compute("progress", inputs, seed=0, thresholds={"memorise_threshold": 0.99, "grok_threshold": 0.95})
    assert set(t.loc[t.kind == "phase", "name"]) == {"memorisation", "circuit_formation", "cleanup"}
    assert set(t.loc[t.kind == "curve", "name"]) == {"train_loss", "test_loss", "fourier.embed_gini"}   # those recorded
    assert t.loc[t.kind == "phase"].set_index("name").loc["memorisation", "step"] == 100   # train_acc reaches 1 at 100
    roundtrip_and_draw(tmp_path, "progress", t, cell="a", seed=0)


def test_ladder_points_trend_band_and_seed_factor(tmp_path):
    """Three rungs: points, a fitted line from the shortest delay to the target with its band, the
    seed's factor at the target; a claim with one rung, or with no factor, gets no line."""
    from test_ladder import RUNGS, SEED_DELAY, claim, ladder_speedups

    from groklab.analysis.figure_data.ladder import ONE_RUNG
    from groklab.analysis.ladder import ladder_table, trend_table

    claims = [claim(300.0), claim(None, name="slower")]
    for rungs, name in ((RUNGS, "three"), (RUNGS[:1], "one")):
        ladder = ladder_table(claims, ladder_speedups(rungs, [1000.0, 3000.0, 10000.0][:len(rungs)], 0.5), rungs, 2.0)
        io.write_table(tmp_path / f"ladder-{name}.parquet", ladder)
        io.write_table(tmp_path / f"trend-{name}.parquet", trend_table(ladder, claims, SEED_DELAY, 0.95))
    three = compute("ladder", SimpleNamespace(ladder=str(tmp_path / "ladder-three.parquet"),
                                              ladder_trend=str(tmp_path / "trend-three.parquet")))
    assert set(three.claim) == {"c"}                                    # a claim without a factor has no panel
    fit, points = three[three.kind == "fit"], three[three.kind == "point"]
    assert len(points) == 3 and points.used.all() and (points.lo < points.value).all()
    assert fit.delay.min() == pytest.approx(points.delay.min()) and fit.delay.max() == pytest.approx(SEED_DELAY)
    assert (fit.lo < fit.value).all() and (fit.value < fit.hi).all()
    assert three[three.kind == "seed"][["delay", "value"]].values.tolist() == [[SEED_DELAY, 300.0]]
    roundtrip_and_draw(tmp_path, "ladder", three)
    one = compute("ladder", SimpleNamespace(ladder=str(tmp_path / "ladder-one.parquet"),
                                            ladder_trend=str(tmp_path / "trend-one.parquet")))
    assert one.kind.tolist() == ["point", "note", "seed"] and one[one.kind == "note"].text.tolist() == [ONE_RUNG]
    roundtrip_and_draw(tmp_path, "ladder", one)
    empty = compute("ladder", SimpleNamespace(ladder=str(tmp_path / "ladder-one.parquet"),
                                              ladder_trend=str(tmp_path / "trend-one.parquet"))).iloc[:0]
    roundtrip_and_draw(tmp_path, "ladder", empty)
