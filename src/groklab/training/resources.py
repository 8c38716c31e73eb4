"""Where and how wide to train: device choice, ensemble size E, and the CPU allocator."""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

import torch

from groklab.config.cells import CellConfig

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device: cuda requested but torch.cuda.is_available() is False")
    return torch.device(name)


@lru_cache(maxsize=1)
def tune_allocator() -> bool:
    """Keep freed activation buffers in the heap instead of returning them to the OS.

    glibc serves blocks above the mmap threshold with fresh mmap/munmap pairs, so every
    step of a batched ensemble page-faults its large activations anew (seen as high
    system time; an (8, 2823, 512) float32 activation is 46 MB). The threshold cannot be
    raised past 32 MiB, so mmap is switched off (M_MMAP_MAX = 0) and trimming disabled:
    the heap keeps its pages and each step reuses them. One arena (M_ARENA_MAX = 1) keeps
    blocks freed by torch's worker threads in that same heap (per-thread arenas are mmap'd
    64 MiB heaps that give pages back). Call before torch starts its threads.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**30))
    return all(libc.mallopt(param, value) for param, value in settings)


ARENA_ENV = "MALLOC_ARENA_MAX"


def reexec_with_single_arena() -> None:
    """Restart this process with MALLOC_ARENA_MAX=1 unless it is set already.

    glibc reads it only at start-up; with it, blocks freed by torch's worker threads return
    to the one heap instead of to per-thread arenas that hand pages back to the kernel
    (measured: a (8 models, p=97) full-batch step page-faulted 27 MB per step without it).
    """
    if sys.platform.startswith("linux") and ARENA_ENV not in os.environ:
        os.environ[ARENA_ENV] = "1"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def activation_floats_per_model(cell: CellConfig, batch: int) -> int:
    """Rough float count of one model's forward activations kept for backward in one step."""
    m = cell.model
    if m.arch == "mlp":
        return batch * (3 * m.d_mlp + 2 * cell.task.n_classes)
    full_layers, T = m.n_layers - 1, 4
    per_full = T * (4 * m.d_model + 3 * m.n_heads * m.head_dim + 2 * m.d_mlp)
    last = 3 * m.n_heads * m.head_dim * T + 3 * m.d_model + 2 * m.d_mlp
    return batch * (full_layers * per_full + last + 2 * cell.task.n_classes)


# Measured on a 2-core Zen 4 (benchmarks/ensemble_throughput.py): at p=97 (about 9M
# activation floats per model) E=8 matches or beats one-after-another training, E=16
# falls behind (page faults on activations of ~90 MB each); small cells batch to E=64.
CPU_ACTIVATION_BUDGET_FLOATS = 80 * 2**20
CPU_MAX_E, GPU_MAX_E = 64, 256


def pick_ensemble_size(cell: CellConfig, device: torch.device, n_train: int) -> int:
    """E for this job when the config leaves training.ensemble_size unset."""
    n_seeds = len(cell.training.seeds)
    if device.type == "cuda":
        return min(n_seeds, GPU_MAX_E)
    batch = min(cell.training.batch_size or n_train, n_train)
    per_model = max(1, activation_floats_per_model(cell, batch))
    E = max(1, min(CPU_MAX_E, CPU_ACTIVATION_BUDGET_FLOATS // per_model))
    # Split the seeds into equal groups rather than one full group and a small remainder.
    n_groups = -(-n_seeds // E)
    return -(-n_seeds // n_groups)
