import pytest
import torch

from groklab.config.cells import ConfigError, TaskConfig
from groklab.training.data import make_split, operation_table


@pytest.mark.parametrize("p", [5, 13, 97])
def test_operation_tables_match_python(p):
    expect = {
        "add": lambda a, b: (a + b) % p,
        "sub": lambda a, b: (a - b) % p,
        "mul": lambda a, b: (a * b) % p,
        "div": lambda a, b: (a * pow(b, -1, p)) % p,
    }
    for op, f in expect.items():
        a, b, c = operation_table(op, p)
        pairs = {(int(x), int(y)): int(z) for x, y, z in zip(a, b, c)}
        bs = range(1, p) if op == "div" else range(p)
        assert pairs == {(x, y): f(x, y) for x in range(p) for y in bs}, op


def test_div_rejects_non_prime_and_unknown_op():
    with pytest.raises(ConfigError, match="task.p: 12 is not prime"):
        operation_table("div", 12)
    with pytest.raises(ConfigError, match="task.operations: unknown operation 'pow'"):
        operation_table("pow", 13)


def task(**kw):
    base = dict(p=13, operations=("add",), train_fraction=0.3, split_seed=0)
    return TaskConfig(**{**base, **kw})


def test_split_disjoint_complete_and_reproducible():
    t = task(operations=("add", "div"))
    s1, s2 = make_split(t), make_split(t)
    assert torch.equal(s1.train_x, s2.train_x) and torch.equal(s1.test_x, s2.test_x)
    train = {tuple(r) for r in s1.train_x.tolist()}
    test = {tuple(r) for r in s1.test_x.tolist()}
    assert not train & test
    assert len(train) + len(test) == 13 * 13 + 13 * 12
    # tokens: a, op token p+k, b, "=" = p + n_ops
    assert set(s1.train_x[:, 1].tolist()) == {13, 14} and set(s1.train_x[:, 3].tolist()) == {15}
    # per-operation fraction
    n_add_train = int((s1.train_op == 0).sum())
    assert n_add_train == round(0.3 * 169)


def test_split_depends_on_split_seed_only_and_per_operation():
    a = make_split(task(split_seed=0))
    b = make_split(task(split_seed=1))
    assert not torch.equal(a.train_x, b.train_x)
    # add's split is the same whether or not div shares the cell
    both = make_split(task(operations=("add", "div")))
    add_rows = both.train_x[both.train_op == 0]
    assert torch.equal(add_rows[:, [0, 2]], a.train_x[:, [0, 2]])


def test_train_fraction_leaving_empty_set_is_rejected():
    with pytest.raises(ConfigError, match="task.train_fraction"):
        make_split(task(p=3, train_fraction=0.01))


def test_power_et_al_polynomial_operations():
    p = 11
    expect = {
        "x2_plus_y2": lambda a, b: (a * a + b * b) % p,
        "x2_plus_xy_plus_y2": lambda a, b: (a * a + a * b + b * b) % p,
        "x3_plus_xy": lambda a, b: (a**3 + a * b) % p,
    }
    for op, f in expect.items():
        a, b, c = operation_table(op, p)
        assert len(c) == p * p
        assert all(int(z) == f(int(x), int(y)) for x, y, z in zip(a, b, c)), op


def test_s5_is_the_symmetric_group():
    import itertools
    a, b, c = operation_table("s5", 7)            # p is unused for s5
    assert len(c) == 120 * 120
    table = c.view(120, 120)
    perms = list(itertools.permutations(range(5)))
    assert perms[0] == (0, 1, 2, 3, 4)
    assert torch.equal(table[0], torch.arange(120)) and torch.equal(table[:, 0], torch.arange(120))
    for i, j in [(3, 77), (119, 5), (42, 42)]:
        composed = tuple(perms[i][perms[j][x]] for x in range(5))
        assert perms[int(table[i, j])] == composed
    for i, j, k in [(1, 2, 3), (50, 60, 70)]:              # associativity
        assert table[table[i, j], k] == table[i, table[j, k]]


def test_sparse_parity_tokens_and_labels():
    from groklab.config.cells import CellConfig
    cell = CellConfig.from_dict({"task": {"operations": ["parity"], "parity_bits": 6, "parity_k": 2, "train_fraction": 0.5}})
    t = cell.task
    assert (t.seq_len, t.n_classes, t.vocab_size) == (7, 2, 4)
    s = make_split(t)
    x = torch.cat([s.train_x, s.test_x])
    y = torch.cat([s.train_y, s.test_y])
    assert len(y) == 64 and x.shape == (64, 7) and set(x[:, -1].tolist()) == {3}
    assert torch.equal(y, x[:, :2].sum(1) % 2)


def test_solo_tasks_cannot_share_a_cell():
    from groklab.config.cells import CellConfig
    with pytest.raises(ConfigError, match="cell.task.operations: s5 has its own number space"):
        CellConfig.from_dict({"task": {"operations": ["s5", "add"]}})
