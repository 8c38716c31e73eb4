"""Explicit, named random streams: every random source derives its generator from a seed and a purpose."""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts) -> int:
    """A 63-bit seed from any parts (a seed plus a purpose name), stable across runs and machines."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(*parts) -> torch.Generator:
    """A CPU torch.Generator for one purpose, e.g. generator(seed, "init") or generator(split_seed, "split", op)."""
    return torch.Generator().manual_seed(derive_seed(*parts))
