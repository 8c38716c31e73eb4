import torch
import pytest

from groklab.config.cells import CellConfig
from groklab.training.data import make_split
from groklab.training.models import build_model
from groklab.training.models.reference import ReferenceTransformer


def cell(**model):
    return CellConfig.from_dict({"task": {"p": 13, "operations": ["add", "mul"]},
                                 "model": {"d_model": 24, "n_heads": 3, "d_mlp": 40, **model}})


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("layernorm", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_fast_transformer_equals_full_sequence_reference(layers, layernorm, act):
    c = cell(n_layers=layers, layernorm=layernorm, act=act)
    x = make_split(c.task).train_x
    model = build_model(c, [3, 4])
    with torch.no_grad():   # break the symmetry of zero biases / unit LayerNorm gains
        for _, w in model.named_weights():
            w.add_(0.1 * torch.randn_like(w))
    out = model(x)                                                       # (E, B, p)
    for e in range(2):
        ref = ReferenceTransformer.from_ensemble(model, e)(x)
        torch.testing.assert_close(out[e], ref, atol=2e-5, rtol=1e-4)
    per_model_tokens = model(x.unsqueeze(0).expand(2, -1, -1))
    torch.testing.assert_close(per_model_tokens, out)


def test_same_seed_same_model_whatever_the_ensemble():
    c = cell()
    big, small = build_model(c, [0, 1, 2]), build_model(c, [1])
    for (name, w_big), (_, w_small) in zip(big.named_weights(), small.named_weights()):
        assert torch.equal(w_big[1], w_small[0]), name
    assert not torch.equal(big.p("W_E")[0], big.p("W_E")[1])


@pytest.mark.parametrize("arch", ["transformer", "mlp"])
def test_models_are_independent_across_the_ensemble(arch):
    c = cell(arch=arch)
    x = make_split(c.task).train_x
    model = build_model(c, [0, 1, 2])
    before = model(x).detach()
    with torch.no_grad():
        for _, w in model.named_weights():
            w[2].mul_(-3.0).add_(1.0)
    after = model(x).detach()
    assert torch.equal(before[:2], after[:2]) and not torch.equal(before[2], after[2])
    # gradients of model 0's loss never reach model 1's parameters
    model(x)[0].sum().backward()
    for name, w in model.named_weights():
        assert torch.all(w.grad[1:] == 0), name


def test_mlp_equals_concatenated_embeddings():
    c = cell(arch="mlp")
    x = make_split(c.task).train_x
    m = build_model(c, [5])
    W = dict(m.named_weights())
    emb = W["W_E"][0][x].reshape(len(x), -1)                            # (B, 4d)
    h = torch.relu(emb @ W["W_in"][0].reshape(-1, c.model.d_mlp) + W["b_in"][0])
    torch.testing.assert_close(m(x)[0], h @ W["W_out"][0] + W["b_out"][0], atol=1e-5, rtol=1e-5)


def test_hooks_expose_residual_attention_and_mlp():
    c = cell(n_layers=2)
    model = build_model(c, [0, 1])
    x = make_split(c.task).train_x[:7]
    logits, cache = model.run_with_cache(x)
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, 7, 3, 4, 4)       # (E, B, H, Tq, T)
    assert cache["blocks.1.attn.hook_pattern"].shape == (2, 7, 3, 1, 4)
    torch.testing.assert_close(cache["blocks.1.attn.hook_pattern"].sum(-1), torch.ones(2, 7, 3, 1))
    assert cache["blocks.0.hook_resid_pre"].shape == (4, 2, 7, 24)            # (T, E, B, d)
    assert cache["blocks.1.mlp.hook_post"].shape == (1, 2, 7, 40)
    torch.testing.assert_close(logits, model(x))


@pytest.mark.parametrize("scheme", ["sparse", "scale"])
def test_init_schemes(scheme):
    own = {"sparsity": 0.9} if scheme == "sparse" else {"alpha": 0.01}    # the key only that scheme reads
    c = CellConfig.from_dict({"task": {"p": 13}, "init": {"scheme": scheme, **own}})
    W_in = dict(build_model(c, [0, 1]).named_weights())["blocks.0.W_in"]
    default = dict(build_model(CellConfig.from_dict({"task": {"p": 13}}), [0, 1]).named_weights())["blocks.0.W_in"]
    if scheme == "sparse":
        assert abs((W_in == 0).float().mean().item() - 0.9) < 0.01
        assert abs(W_in.var().item() / default.var().item() - 1) < 0.1   # survivors rescaled
    else:
        torch.testing.assert_close(W_in, default * 0.01)
