"""Each operation's own orthonormal basis over its input tokens, from the task's group structure.

    add, sub   Z_p (cyclic, order p): cos/sin(2 pi k x / p), k = 0..p//2. The circuit reads
               the element a + b (add) or a - b (sub); cos(k(a - b)) = cos ka cos kb + sin ka sin kb
               is spanned by products of the same per-token vectors, so one basis serves both.
    mul, div   Z_p^* (cyclic, order p - 1, p prime): with g the smallest primitive root and
               log_g the discrete log, cos/sin(2 pi k log_g(x) / (p - 1)) over the p - 1 nonzero
               residues, k = 0..(p-1)//2; residue 0 is outside the group and gets its own vector,
               the indicator of 0 (label "zero"). a * b becomes log a + log b, a / b log a - log b.
    s5         S5 (120 permutations, data.py's lexicographic numbering): the entries of the seven
               irreducible representations (dims 1, 1, 4, 4, 5, 5, 6) in Young's orthogonal form,
               Plancherel-normalised: sqrt(d / 120) rho(g)_ij. Composition a o b reads rho(a) rho(b).

The polynomial operations and parity get no basis (`basis_for` returns None); `no_basis_reason`
says why (see NO_BASIS).

Convention: `Basis.matrix` is (n, n) with orthonormal ROWS; row r is basis vector r as a
function of the token (column t = token t). It is square, hence orthogonal: coefficients of
f (..., n) are f @ matrix.T, and f = coef @ matrix.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from groklab.config.cells import S5_ORDER, is_prime
from groklab.training.data import s5_table

# partitions of 5 in the order of their dimensions 1, 1, 4, 4, 5, 5, 6
S5_PARTITIONS = ((5,), (1, 1, 1, 1, 1), (4, 1), (2, 1, 1, 1), (3, 2), (2, 2, 1), (3, 1, 1))
S5_ALIASES = {"(5)": "trivial", "(1,1,1,1,1)": "sign", "(4,1)": "standard", "(2,1,1,1)": "standard x sign",
              "(3,2)": "(2,2,1) x sign", "(2,2,1)": "(3,2) x sign", "(3,1,1)": "exterior square of standard"}

NO_BASIS = {
    "x2_plus_y2": "a^2 + b^2 is additive in the squares: the answer is the Z_p element u + v with "
                  "u = a^2, v = b^2, so Z_p characters fit the answer but not the tokens: a -> a^2 is "
                  "2-to-1 onto the (p+1)/2 squares, and cos/sin(2 pi k a^2 / p) are neither orthonormal "
                  "nor complete over the p tokens",
    "x2_plus_xy_plus_y2": "a^2 + ab + b^2 is the norm N(a - b w) (w a primitive cube root of unity) of "
                          "one element of a ring of order p^2 built from the pair, not a group law on "
                          "the tokens a, b: no per-token basis turns it into a sum or product",
    "x3_plus_xy": "a^3 + ab = a (a^2 + b) is neither symmetric nor a group law on Z_p or Z_p^*: for fixed "
                  "a it is affine in b, with slope and offset depending on a",
    "parity": "the tokens are 2 bits; parity's structure is the Walsh basis (characters of Z_2^n) over "
              "the whole input, not a basis over one token",
}


@dataclass(frozen=True)
class Basis:
    """An orthonormal basis of functions on the n input tokens of one operation.

    matrix:      (n, n) float, orthonormal rows (row r = basis vector r over tokens 0..n-1)
    labels:      (n,) unique names: "cos3", "sin3", "zero", "(4,1)[0,2]"
    kinds:       (n,) "cos", "sin", "zero" or "entry" (an irrep's matrix entry)
    groups:      (n,) group label of each row: the frequency k as a string ("0", "3"), "zero",
                 or the irrep's partition ("(4,1)")
    group_names: distinct groups in row order; for cyclic bases group_names[k] == str(k), so
                 group_ids equals the frequency k on character rows ("zero" comes last)
    """

    op: str
    group: str                 # "Z_p", "Z_p^*" or "S5"
    matrix: torch.Tensor       # (n, n)
    labels: tuple[str, ...]
    kinds: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def n(self) -> int:
        return self.matrix.shape[1]

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.groups))

    @property
    def group_ids(self) -> torch.Tensor:
        """(n,) int64: index of each row's group in group_names."""
        index = {g: i for i, g in enumerate(self.group_names)}
        return torch.tensor([index[g] for g in self.groups])

    def rows(self, group: str) -> torch.Tensor:
        """int64 indices of the rows of one group (e.g. "3": cos3 and sin3)."""
        return torch.tensor([r for r, g in enumerate(self.groups) if g == group], dtype=torch.int64)


# ---- cyclic groups -------------------------------------------------------------------------

def cyclic_rows(n: int) -> tuple[torch.Tensor, list[str], list[str], list[str]]:
    """Real characters of Z_n over positions t = 0..n-1: (n, n) orthonormal rows cos0, cos1,
    sin1, ..., and cos(n/2) when n is even; with labels, kinds and frequency groups."""
    t = torch.arange(n, dtype=torch.float64)
    rows, labels, kinds, groups = [], [], [], []
    for k in range(n // 2 + 1):
        for kind, fn in (("cos", torch.cos), ("sin", torch.sin)):
            if kind == "sin" and 2 * k % n == 0:        # sin vanishes at k = 0 and k = n/2
                continue
            rows.append(fn(2 * math.pi * k * t / n))
            labels += [f"{kind}{k}"]
            kinds += [kind]
            groups += [str(k)]
    B = torch.stack(rows)                                # (n, n)
    return B / B.norm(dim=1, keepdim=True), labels, kinds, groups


def _prime_factors(n: int) -> list[int]:
    return [q for q in range(2, n + 1) if n % q == 0 and is_prime(q)]


def primitive_root(p: int) -> int:
    """The smallest generator g of Z_p^* (p prime): g^((p-1)/q) != 1 for every prime q | p - 1."""
    return next(g for g in range(1, p) if all(pow(g, (p - 1) // q, p) != 1 for q in _prime_factors(p - 1)))


def discrete_log(p: int) -> torch.Tensor:
    """(p,) int64: log[x] = l in [0, p-1) with g^l = x mod p, g = primitive_root(p); log[0] = -1."""
    g, log = primitive_root(p), torch.full((p,), -1, dtype=torch.int64)
    for l in range(p - 1):
        log[pow(g, l, p)] = l
    return log


def _additive(op: str, p: int) -> Basis:
    B, labels, kinds, groups = cyclic_rows(p)           # columns are the residues themselves
    return Basis(op, "Z_p", B, tuple(labels), tuple(kinds), tuple(groups))


def _multiplicative(op: str, p: int) -> Basis:
    C, labels, kinds, groups = cyclic_rows(p - 1)       # (p-1, p-1) over log positions
    M = torch.zeros(p, p, dtype=torch.float64)
    M[: p - 1, 1:] = C[:, discrete_log(p)[1:]]          # column x >= 1 reads position log x
    M[p - 1, 0] = 1.0                                   # indicator of residue 0
    return Basis(op, "Z_p^*", M, (*labels, "zero"), (*kinds, "zero"), (*groups, "zero"))


# ---- S5 ------------------------------------------------------------------------------------

def s5_permutations() -> list[tuple[int, ...]]:
    """The 120 permutations in data.py's numbering (lexicographic); perm[x] is the image of x."""
    return list(itertools.permutations(range(5)))


def standard_tableaux(shape: tuple[int, ...]) -> list[tuple[tuple[int, int], ...]]:
    """Standard Young tableaux of `shape`, each as the (row, col) cell of entries 0..n-1."""
    out = []

    def grow(cells, lengths):
        if len(cells) == sum(shape):
            return out.append(tuple(cells))
        for r, length in enumerate(lengths):
            if length < shape[r] and (r == 0 or lengths[r - 1] > length):
                grow(cells + [(r, length)], lengths[:r] + [length + 1] + lengths[r + 1:])

    grow([], [0] * len(shape))
    return out


def young_generator(shape: tuple[int, ...], i: int) -> torch.Tensor:
    """(d, d) Young's orthogonal form of the adjacent transposition (i, i+1): on tableau T,
    with axial distance r = content(i+1) - content(i) (content = col - row),
    s_i T = T / r + sqrt(1 - 1/r^2) s_i(T); s_i(T) swaps i and i+1 (standard when |r| > 1)."""
    tabs = standard_tableaux(shape)
    index = {T: k for k, T in enumerate(tabs)}
    S = torch.zeros(len(tabs), len(tabs), dtype=torch.float64)
    for k, T in enumerate(tabs):
        r = (T[i + 1][1] - T[i + 1][0]) - (T[i][1] - T[i][0])
        S[k, k] = 1.0 / r
        if abs(r) > 1:
            swapped = T[:i] + (T[i + 1], T[i]) + T[i + 2:]
            S[index[swapped], k] = math.sqrt(1.0 - 1.0 / r**2)
    return S


def _irrep(shape: tuple[int, ...]) -> torch.Tensor:
    """(120, d, d) rho(g) for each permutation, via g = s_i o h with one inversion fewer."""
    gens = [young_generator(shape, i) for i in range(4)]
    memo = {tuple(range(5)): torch.eye(gens[0].shape[0], dtype=torch.float64)}

    def rho(g):
        if g not in memo:
            pos = {v: x for x, v in enumerate(g)}
            i = next(i for i in range(4) if pos[i + 1] < pos[i])          # values i+1 before i
            h = tuple(i + 1 if v == i else i if v == i + 1 else v for v in g)   # s_i o g
            memo[g] = gens[i] @ rho(h)
        return memo[g]

    return torch.stack([rho(g) for g in s5_permutations()])


def partition_name(shape: tuple[int, ...]) -> str:
    return "(" + ",".join(map(str, shape)) + ")"


@lru_cache(maxsize=1)
def _s5_irreps() -> dict[str, torch.Tensor]:
    return {partition_name(s): _irrep(s) for s in S5_PARTITIONS}


def s5_irreps() -> dict[str, torch.Tensor]:
    """Partition name -> (120, d, d) float64 orthogonal matrices rho(g), g in data.py's order;
    rho(a o b) = rho(a) @ rho(b) with (a o b)(x) = a(b(x)). Dims 1, 1, 4, 4, 5, 5, 6."""
    return {k: v.clone() for k, v in _s5_irreps().items()}


def s5_fourier(f: torch.Tensor) -> dict[str, torch.Tensor]:
    """f (..., 120) -> {irrep: (..., d, d)}: sqrt(d / 120) sum_g f(g) rho(g) (Plancherel-normalised)."""
    return {k: math.sqrt(r.shape[1] / S5_ORDER) * torch.einsum("...g,gij->...ij", f.to(r.dtype), r)
            for k, r in _s5_irreps().items()}


def s5_inverse_fourier(fhat: dict[str, torch.Tensor]) -> torch.Tensor:
    """{irrep: (..., d, d)} -> f (..., 120): sum_rho sqrt(d / 120) sum_ij rho(g)_ij fhat_ij."""
    return sum(math.sqrt(r.shape[1] / S5_ORDER) * torch.einsum("...ij,gij->...g", fhat[k].to(r.dtype), r)
               for k, r in _s5_irreps().items())


def _s5(op: str) -> Basis:
    rows, labels, groups = [], [], []
    for name, r in _s5_irreps().items():
        d = r.shape[1]
        rows.append(math.sqrt(d / S5_ORDER) * r.reshape(S5_ORDER, d * d).T)   # (d*d, 120), row (i, j)
        labels += [f"{name}[{i},{j}]" for i in range(d) for j in range(d)]
        groups += [name] * (d * d)
    return Basis(op, "S5", torch.cat(rows), tuple(labels), ("entry",) * S5_ORDER, tuple(groups))


# ---- entry points --------------------------------------------------------------------------

def no_basis_reason(op: str, p: int) -> str | None:
    """Why `basis_for(op, p)` is None; None when there is a basis."""
    if op in ("mul", "div") and not is_prime(p):
        return f"{op}: Z_{p}^* plus 0 is no group for non-prime p={p} (nonzero non-units)"
    if op in ("add", "sub", "mul", "div", "s5"):
        return None
    return NO_BASIS.get(op, f"unknown operation {op!r}")


@lru_cache(maxsize=64)
def _basis(op: str, p: int) -> Basis | None:
    if no_basis_reason(op, p) is not None:
        return None
    if op == "s5":
        return _s5(op)
    return _additive(op, p) if op in ("add", "sub") else _multiplicative(op, p)


def basis_for(op: str, p: int, dtype: torch.dtype = torch.float64) -> Basis | None:
    """The operation's basis over its input tokens (n = p tokens; 120 for s5, p ignored), or
    None (see no_basis_reason). The matrix is a fresh copy in `dtype`."""
    b = _basis(op, p)
    return None if b is None else dataclasses.replace(b, matrix=b.matrix.to(dtype, copy=True))


@lru_cache(maxsize=1)
def _s5_product() -> torch.Tensor:
    return s5_table()[2].view(S5_ORDER, S5_ORDER)                   # (120, 120): [a, b] -> index of a o b


def pair_element(op: str, p: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) int64 token of the group element the answer depends on, for pairs a, b (N,):
    (a + b) % p, (a - b) % p, g^(log a +- log b) (0 when a or b is 0), or a o b for s5."""
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p
    if op == "s5":
        return _s5_product().to(a.device)[a, b]
    if op not in ("mul", "div") or no_basis_reason(op, p) is not None:
        raise ValueError(f"pair_element: no group element for {op!r} at p={p}")
    log = discrete_log(p).to(a.device)
    exp = torch.tensor([pow(primitive_root(p), l, p) for l in range(p - 1)], device=a.device)   # (p-1,)
    s = log[a] + log[b] if op == "mul" else log[a] - log[b]
    return torch.where((a == 0) | (b == 0), torch.zeros_like(a), exp[s % (p - 1)])


def pair_directions(basis: Basis, p: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, n): every basis vector evaluated at each pair's element, the directions over pairs
    (a, b) onto which restricted/excluded loss project the logits. Not normalised over the pairs
    (div has no b = 0; the zero vector fires on a whole row and column for mul): orthonormalise
    the columns used (e.g. QR) over the pairs at hand."""
    return basis.matrix[:, pair_element(basis.op, p, a, b).to(basis.matrix.device)].T


def group_norms(basis: Basis, W: torch.Tensor) -> torch.Tensor:
    """W (E, n, d) (one row per token) -> (E, G) norm of W's coefficients in each group of rows
    (G = len(basis.group_names)); the generalisation of fourier.frequency_norms."""
    coef = torch.einsum("fn,end->efd", basis.matrix.to(W.device, torch.float64), W.double())   # (E, n, d)
    power = coef.pow(2).sum(2)                                                                  # (E, n)
    G = len(basis.group_names)
    out = torch.zeros(W.shape[0], G, dtype=torch.float64, device=W.device)
    return out.index_add_(1, basis.group_ids.to(W.device), power).sqrt()
