import math

import pytest
import torch

from groklab.training.data import operation_table, s5_table
from groklab.training.observables import bases as B

PRIMES = [5, 7, 23, 97, 113]


def eye(n):
    return torch.eye(n, dtype=torch.float64)


@pytest.mark.parametrize("p", PRIMES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_modular_bases_orthonormal_and_labelled(op, p):
    b = B.basis_for(op, p)
    M = b.matrix
    assert M.shape == (p, p) and M.dtype == torch.float64
    assert torch.allclose(M @ M.T, eye(p), atol=1e-12) and torch.allclose(M.T @ M, eye(p), atol=1e-12)
    assert len(set(b.labels)) == p == len(b.kinds) == len(b.groups)
    K = (p - 1) // 2
    names = [str(k) for k in range(K + 1)] + (["zero"] if op in ("mul", "div") else [])
    assert list(b.group_names) == names
    # cyclic bases: group id == frequency k on character rows
    for r, (lab, g) in enumerate(zip(b.labels, b.group_ids.tolist())):
        assert lab == "zero" or int(lab[3:]) == g
    assert B.basis_for(op, p, torch.float32).matrix.dtype == torch.float32


def test_additive_basis_is_cos_sin_of_residue():
    p = 7
    b, x = B.basis_for("add", p), torch.arange(p, dtype=torch.float64)
    row = b.matrix[b.labels.index("sin2")]
    assert torch.allclose(row, torch.sin(2 * math.pi * 2 * x / p) / math.sqrt(p / 2))
    assert torch.allclose(b.matrix[0], torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64))


def test_even_order_cyclic_has_nyquist_cos():
    C, labels, kinds, groups = B.cyclic_rows(6)
    assert labels == ["cos0", "cos1", "sin1", "cos2", "sin2", "cos3"]
    assert torch.allclose(C @ C.T, eye(6), atol=1e-12)


@pytest.mark.parametrize("p", [2, 3] + PRIMES)
def test_primitive_root_and_log_table(p):
    g, log = B.primitive_root(p), B.discrete_log(p)
    assert log[0] == -1
    assert all(pow(g, int(log[x]), p) == x for x in range(1, p))
    assert sorted(log[1:].tolist()) == list(range(p - 1))
    def order(h):
        return next(n for n in range(1, p) if pow(h, n, p) == 1)

    assert order(g) == p - 1
    assert all(order(h) < p - 1 for h in range(1, g))                          # g is the smallest


def test_known_primitive_roots():
    assert [B.primitive_root(p) for p in (5, 7, 23, 97, 113)] == [2, 3, 5, 5, 3]


def test_multiplicative_basis_zero_vector():
    p = 11
    b = B.basis_for("mul", p)
    z = b.matrix[b.labels.index("zero")]
    assert z[0] == 1 and z[1:].abs().max() == 0
    assert b.matrix[:-1, 0].abs().max() == 0            # characters vanish on residue 0


@pytest.mark.parametrize("p", [7, 23])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_pair_element_matches_data_table(op, p):
    a, b, c = operation_table(op, p)
    assert torch.equal(B.pair_element(op, p, a, b), c)


@pytest.mark.parametrize("p", [7, 23, 97])
@pytest.mark.parametrize("op,sign", [("mul", 1), ("div", -1), ("add", 1), ("sub", -1)])
def test_pair_character_spanned_by_token_products_of_same_frequency(op, sign, p):
    """(a, b) -> cos/sin(2 pi k (log a +- log b) / (p-1)) (mul/div; a +- b for add/sub) lies in the
    span of u(a) v(b) for u, v the per-token vectors of frequency k, and pair_directions gives it."""
    basis = B.basis_for(op, p)
    n = p - 1 if op in ("mul", "div") else p
    a, b = (x.reshape(-1) for x in torch.meshgrid(torch.arange(1, p), torch.arange(1, p), indexing="ij"))
    coord = B.discrete_log(p) if op in ("mul", "div") else torch.arange(p)
    s = (coord[a] + sign * coord[b]).double()
    dirs = B.pair_directions(basis, p, a, b)                                       # (N, p)
    for k in (1, 2, (n - 1) // 2):
        rows = basis.rows(str(k))
        prods = torch.stack([basis.matrix[u, a] * basis.matrix[v, b] for u in rows for v in rows], 1)
        for fn, kind in ((torch.cos, "cos"), (torch.sin, "sin")):
            target = fn(2 * math.pi * k * s / n)
            coef = torch.linalg.lstsq(prods, target.unsqueeze(1)).solution
            assert (prods @ coef).squeeze(1).sub(target).abs().max() < 1e-9
            col = dirs[:, basis.labels.index(f"{kind}{k}")]
            assert torch.allclose(col / col.norm(), target / target.norm(), atol=1e-12)


def test_polynomial_ops_and_parity_have_no_basis():
    for op in ("x2_plus_y2", "x2_plus_xy_plus_y2", "x3_plus_xy", "parity"):
        assert B.basis_for(op, 13) is None and B.no_basis_reason(op, 13) == B.NO_BASIS[op]
    assert B.basis_for("mul", 12) is None and "non-prime" in B.no_basis_reason("mul", 12)
    assert B.basis_for("add", 12) is not None and B.no_basis_reason("add", 13) is None
    with pytest.raises(ValueError):
        B.pair_element("x3_plus_xy", 13, torch.tensor([1]), torch.tensor([2]))


def test_group_norms_single_frequency():
    p = 13
    basis = B.basis_for("mul", p)
    W = torch.stack([basis.matrix[basis.labels.index("cos3")], 2 * basis.matrix[-1]], 1).unsqueeze(0)  # (1, p, 2)
    norms = B.group_norms(basis, W)
    assert norms.shape == (1, len(basis.group_names))
    expect = torch.zeros(len(basis.group_names), dtype=torch.float64)
    expect[3], expect[-1] = 1.0, 2.0
    assert torch.allclose(norms[0], expect, atol=1e-12)


# ---- S5 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def irreps():
    return B.s5_irreps()


def test_s5_dimensions(irreps):
    dims = [r.shape[1] for r in irreps.values()]
    assert dims == [1, 1, 4, 4, 5, 5, 6] and sum(d * d for d in dims) == 120
    assert all(r.shape == (120, r.shape[1], r.shape[1]) for r in irreps.values())
    assert list(irreps) == [B.partition_name(s) for s in B.S5_PARTITIONS]


def test_s5_permutations_match_data_order():
    perms = B.s5_permutations()
    a, b, c = s5_table()
    comp = {(i, j): perms.index(tuple(perms[i][perms[j][x]] for x in range(5))) for i, j in ((5, 77), (119, 3))}
    table = c.view(120, 120)
    assert all(table[i, j] == k for (i, j), k in comp.items())


def test_s5_homomorphism_on_all_pairs(irreps):
    a, b, c = s5_table()
    for name, r in irreps.items():
        assert torch.allclose(r[a] @ r[b], r[c], atol=1e-12), name
        assert torch.allclose(r[0], eye(r.shape[1])), name                      # index 0 is the identity


def test_s5_orthogonal(irreps):
    for name, r in irreps.items():
        d = r.shape[1]
        assert torch.allclose(r @ r.transpose(1, 2), eye(d).expand(120, d, d), atol=1e-12), name


def test_s5_trivial_and_sign(irreps):
    def sign(perm):
        return (-1) ** sum(perm[i] > perm[j] for i in range(5) for j in range(i + 1, 5))

    assert torch.all(irreps["(5)"].flatten() == 1)
    assert torch.equal(irreps["(1,1,1,1,1)"].flatten(),
                       torch.tensor([float(sign(g)) for g in B.s5_permutations()], dtype=torch.float64))


def test_s5_character_orthogonality_and_inequivalence(irreps):
    chi = torch.stack([r.diagonal(dim1=1, dim2=2).sum(1) for r in irreps.values()])   # (7, 120)
    assert torch.allclose(chi @ chi.T / 120, eye(7), atol=1e-12)
    # column orthogonality: sum over irreps chi(g) chi(h) = |C_G(g)| if g ~ h else 0
    gram = chi.T @ chi                                                                # (120, 120)
    assert torch.allclose(gram.diagonal().sum(), torch.tensor(120.0 * 7, dtype=torch.float64))
    rounded = {tuple(torch.round(x * 1e6).tolist()) for x in chi}
    assert len(rounded) == 7                                                          # pairwise distinct
    assert sorted(chi[:, 0].tolist()) == [1, 1, 4, 4, 5, 5, 6]


def test_s5_characters_are_class_functions(irreps):
    a, b, c = s5_table()
    table = c.view(120, 120)
    inv = torch.tensor([int((table[g] == 0).nonzero()) for g in range(120)])
    for r in irreps.values():
        chi = r.diagonal(dim1=1, dim2=2).sum(1)
        h = torch.arange(120)
        for g in (1, 7, 50, 119):
            conj = table[table[h, g], inv[h]]                                        # h g h^-1
            assert torch.allclose(chi[conj], chi[g].expand(120), atol=1e-12)


def test_s5_basis_orthonormal_and_fourier_round_trip():
    basis = B.basis_for("s5", 0)
    M = basis.matrix
    assert M.shape == (120, 120) and torch.allclose(M @ M.T, eye(120), atol=1e-12)
    assert basis.kinds == ("entry",) * 120 and len(set(basis.labels)) == 120
    assert [len(basis.rows(g)) for g in basis.group_names] == [1, 1, 16, 16, 25, 25, 36]
    f = torch.randn(3, 120, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fhat = B.s5_fourier(f)
    assert [v.shape for v in fhat.values()] == [(3, d, d) for d in (1, 1, 4, 4, 5, 5, 6)]
    assert torch.allclose(B.s5_inverse_fourier(fhat), f, atol=1e-12)
    flat = torch.cat([v.reshape(3, -1) for v in fhat.values()], 1)
    assert torch.allclose(flat, f @ M.T, atol=1e-12)                                  # same coordinates
    assert torch.allclose(flat.norm(dim=1), f.norm(dim=1))                            # Plancherel


def test_s5_pair_element_and_product_span(irreps):
    a, b, c = s5_table()
    assert torch.equal(B.pair_element("s5", 0, a, b), c)
    r = irreps["(3,2)"]
    # rho(a o b)_ij = sum_l rho(a)_il rho(b)_lj: products of per-token entries of the same irrep
    assert torch.allclose(r[c][:, 1, 3], (r[a][:, 1, :] * r[b][:, :, 3]).sum(1), atol=1e-12)
