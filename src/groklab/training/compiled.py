"""Compiled training steps: torch.compile (inductor) over a pack's loss and its optimizer update.

On a 2-core CPU about half of an eager step is memory-bound elementwise work (the value mix over
keys and its backward, ReLU's backward, bias copies, softmax, the optimizer's dozen foreach
passes; benchmarks/RESULTS.md). Inductor fuses each chain into one loop, forward and backward
(AOTAutograd), and the optimizer's passes into one loop per parameter.

What compiling keeps and what it changes:
  * a model's numbers still do not depend on what shares its pack: the ensemble dimension E is
    marked dynamic from the first call, so every pack size runs the same generated code (a
    kernel specialised to one E could vectorise another way), and every kernel works within a
    model's rows, on one thread (`configure`; tests/test_compiled.py: alone and in a pack, bitwise);
  * against eager the last bits differ (inductor fuses, so intermediates stay in registers and
    reductions run in another order: gradients agree to ~1e-7 relative). Training amplifies such
    differences, so compiled and eager runs of a cell are two draws of rounding, compared by their
    grok steps and final metrics (tests/test_compiled.py, docs/training.md);
  * hence `training.compile` is part of a cell's identity (its hash), like the device.

Compiled artefacts are cached on disk (inductor's FX-graph and AOTAutograd caches) in
`compile_cache_dir()`, shared by every job of a run, so only a run's first job of each shape pays
the full compile. Where compiling is unavailable (no C++ compiler for inductor's CPU backend, or
dynamo unsupported), training falls back to eager and says so once.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from typing import Callable

import torch

from groklab.training import optimizer as eager_optimizer

log = logging.getLogger("groklab.training.compiled")

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


@functools.lru_cache(maxsize=None)
def unavailable_reason(device_type: str) -> str | None:
    """Why this process cannot compile for `device_type` (None: it can)."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile is not supported on this Python"
    if device_type == "cpu":
        from torch._inductor import cpp_builder

        try:
            compiler = cpp_builder.get_cpp_compiler()
        except Exception as exc:          # inductor raises its own error types when none is found
            return f"no C++ compiler for inductor's CPU backend ({exc})"
        if shutil.which(compiler) is None and not os.path.exists(compiler):
            return f"no C++ compiler for inductor's CPU backend ({compiler!r} not found)"
    if device_type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "triton is not installed"
    return None


def use_compiled(setting: bool, device: torch.device) -> bool:
    """Whether a pack on `device` compiles: training.compile, unless compiling is unavailable.
    A pack that compiles gets the exactness settings of `configure` first."""
    if not setting:
        return False
    reason = unavailable_reason(device.type)
    if reason is not None:
        _warn_once(f"training.compile: true, but {reason}: training eagerly")
        return False
    configure()
    return True


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    log.warning(message)


def configure(cache_dir: str | os.PathLike | None = None) -> None:
    """Inductor settings for training jobs, before the first compile.

    cpp.threads = 1: inductor's own CPU kernels run on one thread. With two, a kernel over a flattened
    (E, ...) tensor splits at a point that depends on E, and the two halves vectorise apart, so the
    model at the split got other last bits in a pack than alone (measured: seed 1 of 3). One thread
    keeps pack = alone bitwise, and costs nothing here: the matmuls (aten bmm, outside inductor) still
    use every thread, and one thread ran the p = 59 step faster than two (no fork-join per small
    kernel; benchmarks/RESULTS.md).
    compile_threads = 1: no pool of compile workers (each a Python process with torch imported,
    hundreds of MB of RSS on a job that must stay under 2 GiB, and no gain on 2 cores).
    cache_dir: where the compiled artefacts of a run are shared (default: inductor's own)."""
    import torch._dynamo
    import torch._inductor.config as inductor

    inductor.cpp.threads = 1
    inductor.compile_threads = 1
    # dynamo recompiles a function per new set of shapes (E = 1 is its own graph) and, past
    # recompile_limit (8), runs it eagerly from then on: a process that trains packs of many shapes
    # (a test session) switched Adam's update to eager mid-run (measured in CI). 64 shape sets per
    # function before that happens.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    torch._dynamo.config.accumulated_recompile_limit = max(torch._dynamo.config.accumulated_recompile_limit, 1024)
    if cache_dir is not None:
        # set, not setdefault: inductor's cache_dir() writes its default into the environment the
        # first time anything asks for it (measured: a fresh-clone run cached in /tmp/torchinductor_root)
        os.environ[CACHE_ENV] = str(cache_dir)


def mark_ensemble_dynamic(tensors) -> None:
    """Mark dim 0 (E) of every tensor dynamic before a compiled call: one graph for every pack size
    (E = 1 stays specialised: dynamo treats a size of 1 apart in any case)."""
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.dim() and t.shape[0] > 1:
            torch._dynamo.maybe_mark_dynamic(t, 0)


def compile_forward(model: torch.nn.Module, cuda_graphs: bool) -> Callable:
    """The model's forward tokens -> logits (E, B, C) compiled (and, through AOTAutograd, its backward).

    On CUDA, cuda_graphs replays the step's kernels as one graph ("reduce-overhead"): the same design,
    without the launch overhead."""
    forward = torch.compile(model.forward, mode="reduce-overhead" if cuda_graphs else None, dynamic=None)

    def run(tokens: torch.Tensor) -> torch.Tensor:
        mark_ensemble_dynamic([*model.parameters(), tokens if tokens.dim() == 3 else None])
        return forward(tokens)

    return run


@functools.lru_cache(maxsize=None)
def compiled_update() -> Callable:
    """The optimizer update (groklab.training.optimizer.update) compiled: its foreach passes fuse
    into one loop per parameter. SGD's is bitwise the eager update; Adam's m is bitwise and its v and
    parameters within 2 ulp (inductor's sqrt rounds differently; tests/test_compiled.py)."""
    update = torch.compile(eager_optimizer.update, dynamic=None)

    def run(name, params, grads, m_or_buf, v, f, nesterov) -> None:
        for ts in (params, grads, m_or_buf, v, *(x for x in f.values() if isinstance(x, list))):
            mark_ensemble_dynamic(ts or ())
        update(name, params, grads, m_or_buf, v, f, nesterov)

    return run
