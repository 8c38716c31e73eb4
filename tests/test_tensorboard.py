"""Live curves in TensorBoard (groklab.training.tensorboard), read back with TensorBoard's own
EventAccumulator: the same numbers as metrics.parquet, events at the analysis' steps, hparams per
model, and a killed and resumed run that shows no step twice."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from conftest import tiny_cell
from groklab.analysis.events import cell_events
from groklab.config.cells import ConfigError
from groklab.training.job import train_cell
from groklab.training.packs import check_trainable
from groklab.training.tensorboard import plotted


def scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_plotted_columns_follow_the_registered_names():
    names = ("fourier.key_fraction", "weights.l2[W_U]")
    assert plotted("fourier.key_fraction", names) and plotted("fourier.key_fraction/div", names)
    assert plotted("weights.l2[W_U]", names) and not plotted("weights.l2[W_E]", names)
    assert not plotted("fourier.key_fraction_x", names) and not plotted("weights.sum_sq", names)


def test_the_view_is_not_part_of_the_cell_and_bad_names_are_refused():
    on = tiny_cell()
    off = tiny_cell(training={"tensorboard": {"enabled": False, "observables": []}})
    assert on.training.tensorboard.enabled and len(on.training.tensorboard.observables) == 12
    assert on.hash == off.hash      # switching the view never retrains a cell
    bad = tiny_cell(training={"tensorboard": {"observables": ["weights.sum_sq", "fourier.key_fractoin"]}})
    with pytest.raises(ConfigError, match=r"cell\.training\.tensorboard\.observables\[1\]: 'fourier.key_fractoin' "
                                          r"is not a registered observable \(did you mean 'fourier.key_fraction'\?\)"):
        check_trainable(bad)


@pytest.mark.slow
def test_event_files_hold_the_parquet_numbers_events_and_hparams(tmp_path):
    cell = tiny_cell(task={"operations": ["add", "sub"], "train_fraction": 0.6}, optimizer={"lr": 0.01},
                     training={"steps": 200, "eval_every": 10, "seeds": [0, 1],
                               "tensorboard": {"observables": ["weights.sum_sq", "fourier.key_fraction"]}})
    metrics = train_cell(cell, tmp_path / "run", progress=False, name="tiny", board=tmp_path / "tb")
    observables = pd.read_parquet(tmp_path / "run" / "observables.parquet")
    events = cell_events(metrics, cell.to_dict())
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["seed0", "seed1"]
    for seed in (0, 1):
        got = scalars(tmp_path / "tb" / f"seed{seed}")
        m, o = metrics[metrics.seed == seed], observables[observables.seed == seed]
        for column in ("test_acc", "train_loss", "test_acc/sub"):
            assert [s for s, _ in got[column]] == m.step.tolist()
            np.testing.assert_allclose([v for _, v in got[column]], m[column], rtol=1e-6)
        wanted = {c for c in o.columns if c.startswith(("weights.sum_sq", "fourier.key_fraction"))}
        assert wanted == {t for t in got if t.startswith(("weights.", "fourier.", "gradients.", "outputs."))}
        assert {"fourier.key_fraction/add", "fourier.key_fraction/sub", "weights.sum_sq"} <= wanted
        # the events as they happened: at the step groklab.analysis.events finds in metrics.parquet
        memorised = 0
        for op in ("add", "sub"):
            ev = events[(events.seed == seed) & (events.operation == op)].iloc[0]
            for event in ("memorisation_step", "grok_step"):
                points = got.get(f"events/{event}/{op}", [])
                if np.isfinite(ev[event]):
                    assert points == [(int(ev[event]), float(ev[event]))]
                else:
                    assert points == []
            memorised += np.isfinite(ev["memorisation_step"])
        assert memorised, "the test cell must memorise for the event check to mean anything"
    hp = plugin_event_accumulator.EventAccumulator(str(tmp_path / "tb" / "seed1"))
    hp.Reload()
    content = hp.PluginTagToContent("hparams")
    start = hparams_metadata.parse_session_start_info_plugin_data(content["_hparams_/session_start_info"])
    assert start.hparams["seed"].number_value == 1 and start.hparams["optimizer.lr"].number_value == 0.01
    assert start.hparams["cell"].string_value == "tiny" and "_hparams_/session_end_info" in content


def test_disabled_writes_no_event_files(tmp_path):
    cell = tiny_cell(training={"steps": 20, "tensorboard": {"enabled": False}})
    train_cell(cell, tmp_path / "run", progress=False, board=tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def _checkpoint_step(out: Path) -> int:
    (ckpt,) = out.glob(".partial/*/checkpoint.pt")
    return int(torch.load(ckpt, weights_only=False)["step"])


@pytest.mark.slow
def test_a_killed_and_resumed_run_shows_no_step_twice(tmp_path):
    """The killed job logged (and flushed) evals after its last checkpoint; the resumed job redoes
    them. TensorBoard must show each step once, with the resumed run's numbers (metrics.parquet)."""
    cfg, out, board = tmp_path / "cell.yaml", tmp_path / "run", tmp_path / "run" / "tensorboard"
    # flush_seconds 0: every eval is on disk at once, so the killed job surely logged past its checkpoint
    cell = tiny_cell(training={"steps": 900, "eval_every": 10, "checkpoint_every": 300, "seeds": [0, 1],
                               "observables": {"expensive_every": 1000}, "tensorboard": {"flush_seconds": 0}})
    cfg.write_text(yaml.safe_dump(cell.to_dict()))
    proc = subprocess.Popen([sys.executable, "-m", "groklab.cli", "train", "--config", str(cfg), "--out", str(out),
                             "--quiet"])
    deadline, after = time.time() + 300, []
    while time.time() < deadline and not after:
        time.sleep(0.05)
        if list(out.glob(".partial/*/checkpoint.pt")) and (board / "seed0").exists():
            after = [s for s, _ in scalars(board / "seed0").get("test_acc", []) if s > 300]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = _checkpoint_step(out)
    killed = [s for s, _ in scalars(board / "seed0")["test_acc"]]
    assert max(killed) > ckpt, "the killed run must have logged past its checkpoint, or the test shows nothing"
    done = subprocess.run([sys.executable, "-m", "groklab.cli", "train", "--config", str(cfg), "--out", str(out),
                           "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    metrics = pd.read_parquet(out / "metrics.parquet")
    for seed in (0, 1):
        got = scalars(board / f"seed{seed}")
        m = metrics[metrics.seed == seed]
        for tag in ("test_acc", "train_loss", "weights.sum_sq"):
            steps = [s for s, _ in got[tag]]
            assert len(steps) == len(set(steps)), f"{tag}: a step shown twice"
            if tag in m:
                assert steps == m.step.tolist()
                np.testing.assert_allclose([v for _, v in got[tag]], m[tag], rtol=1e-6)
