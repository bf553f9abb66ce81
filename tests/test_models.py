"""Architectures: shapes, initialization, activation bookkeeping, spec validation, and that a
vmapped population (torch.func) computes exactly what each member computes alone, BatchNorm
running statistics included."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from pipeline.models import ARCHITECTURES, build_model

# Small widths keep every test fast on two CPU cores.
SMALL = {
    "mlp": {"name": "mlp", "hidden": [50, 20]},
    "cnn": {"name": "cnn", "channels": [4, 8], "hidden": 16},
    "resnet9": {"name": "resnet9", "width": 8},
    "wide_resnet": {"name": "wide_resnet", "depth": 10, "width": 1},
}
PENULTIMATE_WIDTH = {"mlp": 20, "cnn": 16, "resnet9": 64, "wide_resnet": 64}
IMAGE_SHAPES = [(1, 8, 8), (3, 32, 32)]


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def _build(spec, shape, seed=0, num_outputs=10):
    torch.manual_seed(seed)
    return build_model(dict(spec), shape, num_outputs)


def test_every_architecture_is_covered():
    assert set(SMALL) == set(ARCHITECTURES)


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_shapes(arch, shape):
    model = _build(SMALL[arch], shape, num_outputs=7)
    for mode in (model.train, model.eval):
        mode()
        out = model(torch.randn(4, *shape))
        assert out.shape == (4, 7)
        assert torch.isfinite(out).all()


def test_mlp_on_points_and_default_widths():
    model = _build({"name": "mlp"}, (2,), num_outputs=1)
    assert model(torch.randn(5, 2)).shape == (5, 1)
    assert [tuple(model.get_parameter(w).shape) for w in model.weight_names] == [(50, 2), (20, 50), (1, 20)]


def test_default_cnn_and_resnets_build_with_paper_sizes():
    # 28x28 MNIST-like input without a channel axis; defaults of every key
    for spec in ({"name": "cnn"}, {"name": "resnet9", "width": 4}, {"name": "wide_resnet", "depth": 10, "width": 1}):
        model = _build(spec, (28, 28))
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert _build({"name": "cnn"}, (3, 32, 32)).fc.in_features == 64 * 8 * 8


def test_zero_init_gives_all_zero_parameters():
    model = _build({"name": "mlp", "hidden": [100], "activation": "sigmoid", "init": "zero"}, (1, 28, 28))
    params = dict(model.named_parameters())
    assert set(params) == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
    assert all(torch.count_nonzero(p) == 0 for p in params.values())
    assert torch.count_nonzero(model(torch.randn(3, 1, 28, 28))) == 0


def test_normal_init_is_tiny_and_bias_can_be_turned_off():
    model = _build({"name": "mlp", "hidden": [100, 100], "bias": False, "init": "normal", "init_std": 1e-6}, (784,))
    assert [n for n, _ in model.named_parameters()] == ["layers.0.weight", "layers.1.weight", "layers.2.weight"]
    weight = model.layers[0].weight
    assert weight.abs().max() < 1e-5 and torch.count_nonzero(weight) == weight.numel()
    assert abs(weight.std().item() - 1e-6) < 5e-8
    with_bias = _build({"name": "mlp", "init": "normal", "init_std": 0.5}, (784,))
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in with_bias.layers)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_same_seed_same_weights_different_seed_different(arch):
    a, b, c = (_build(SMALL[arch], (3, 8, 8), seed=s) for s in (3, 3, 4))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in a.weight_names)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_activations_match_layer_names(arch):
    model = _build(SMALL[arch], (1, 8, 8))
    model.eval()
    x = torch.randn(3, 1, 8, 8)
    logits, acts = model(x, return_activations=True)
    assert tuple(acts) == model.layer_names and model.layer_names[-1] == "output"
    assert torch.equal(acts["output"], logits) and torch.equal(model(x), logits)
    assert all(a.shape[0] == 3 for a in acts.values())
    assert model.penultimate == model.layer_names[-2]
    assert acts[model.penultimate].shape == (3, PENULTIMATE_WIDTH[arch])
    params = dict(model.named_parameters())
    assert model.weight_names and all(name in params for name in model.weight_names)
    assert model.weight_names[-1] in {"layers.2.weight", "head.weight", "fc.weight"}


def test_mlp_layer_names_and_weights_line_up():
    model = _build({"name": "mlp", "hidden": [6, 5, 4], "activation": "tanh"}, (2,))
    assert model.layer_names == ("hidden1", "hidden2", "hidden3", "output")
    assert model.weight_names == tuple(f"layers.{i}.weight" for i in range(4))
    x = torch.randn(7, 2)
    _, acts = model(x, return_activations=True)
    # hidden activations are post-nonlinearity, computed from that layer's weights
    expected = torch.tanh(x @ model.layers[0].weight.T + model.layers[0].bias)
    torch.testing.assert_close(acts["hidden1"], expected)
    assert acts["hidden3"].shape == (7, 4) and acts["hidden3"].abs().max() < 1


def _population(spec, shape, n=3):
    members = [_build(spec, shape, seed=s) for s in range(n)]
    alone = [copy.deepcopy(m) for m in members]
    params, buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")
    return base, params, buffers, alone


def _vmapped(base, **kwargs):
    def one(p, b, x):
        return functional_call(base, (p, b), (x,), kwargs)

    return torch.vmap(one, in_dims=(0, 0, None), randomness="error")


@pytest.mark.parametrize("arch", ["mlp", "resnet9", "wide_resnet"])
def test_vmapped_population_equals_members_alone(arch):
    shape = (1, 8, 8)
    base, params, buffers, alone = _population(SMALL[arch], shape)
    initial = {k: v.clone() for k, v in buffers.items()}
    x = torch.randn(6, *shape)
    for train in (True, False):  # train first: its BatchNorm updates must match, then eval uses them
        base.train(train)
        logits, acts = _vmapped(base, return_activations=True)(params, buffers, x)
        plain = _vmapped(base)(params, buffers, x)
        assert logits.shape == (3, 6, 10) and tuple(acts) == base.layer_names
        for i, model in enumerate(alone):
            model.train(train)
            ref_logits, ref_acts = model(x, return_activations=True)
            torch.testing.assert_close(logits[i], ref_logits, rtol=0, atol=1e-5)
            for name in ref_acts:
                torch.testing.assert_close(acts[name][i], ref_acts[name], rtol=0, atol=1e-5)
            torch.testing.assert_close(plain[i], model(x), rtol=0, atol=1e-5)  # second BN update, as vmapped
    # Train mode ran twice per member (with and without activations) both vmapped and alone.
    for i, model in enumerate(alone):
        for name, value in model.named_buffers():
            torch.testing.assert_close(buffers[name][i], value, rtol=0, atol=1e-6)
    if arch != "mlp":
        assert any(not torch.equal(buffers[k], initial[k]) for k in buffers if "running_mean" in k)
        assert all(int(v[i]) == 2 for k, v in buffers.items() if "num_batches_tracked" in k for i in range(3))
        # members differ, so their statistics must too (each kept its own copy)
        first = next(k for k in buffers if k.endswith("running_var"))
        assert not torch.equal(buffers[first][0], buffers[first][1])


def test_one_vmapped_train_forward_updates_each_members_batchnorm_stats():
    base, params, buffers, alone = _population(SMALL["resnet9"], (3, 8, 8))
    x = torch.randn(5, 3, 8, 8)
    base.train()
    _vmapped(base)(params, buffers, x)
    for i, model in enumerate(alone):
        before = {k: v.clone() for k, v in model.named_buffers()}
        model.train()
        model(x)
        for name, value in model.named_buffers():
            assert not torch.equal(value, before[name])
            torch.testing.assert_close(buffers[name][i], value, rtol=0, atol=1e-6)


def test_vmapped_gradients_equal_members_alone_with_batchnorm():
    base, params, buffers, alone = _population(SMALL["resnet9"], (1, 8, 8))
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 10, (6,))
    base.train()

    def loss(p, b, x, y):
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    losses = torch.vmap(loss, in_dims=(0, 0, None, None), randomness="error")(params, buffers, x, y)
    grads = dict(zip(params, torch.autograd.grad(losses.sum(), list(params.values()))))
    for i, model in enumerate(alone):
        model.train()
        F.cross_entropy(model(x), y).backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name][i], p.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"name": "transformer"}, "name"),
        ({"hidden": [5]}, "name"),
        ({"name": "wide_resnet", "depth": 15}, "depth"),
        ({"name": "wide_resnet", "depth": 4}, "depth"),
        ({"name": "mlp", "activation": "swish"}, "activation"),
        ({"name": "mlp", "init": "xavier"}, "init"),
        ({"name": "mlp", "init": "normal", "init_std": 0}, "init_std"),
        ({"name": "mlp", "hidden": [50, 0]}, "hidden"),
        ({"name": "mlp", "bias": "yes"}, "bias"),
        ({"name": "cnn", "channels": []}, "channels"),
        ({"name": "resnet9", "width": 0}, "width"),
        ({"name": "resnet9", "widht": 8}, "widht"),
        ({"name": "cnn", "init": "zero"}, "init"),  # would be silently ignored
        ({"name": "mlp", "depth": 16}, "depth"),
    ],
)
def test_bad_specs_raise_naming_the_key(spec, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        build_model(spec, (1, 8, 8), 10)


def test_the_config_fills_only_the_defaults_of_the_architectures_own_keys():
    from pipeline.config import validate_config

    sweeps = {name: {"dataset": "digits", "architecture": {"name": name}} for name in ARCHITECTURES}
    filled = {name: sweep["architecture"] for name, sweep in validate_config({"sweeps": sweeps})["sweeps"].items()}
    assert filled["cnn"] == {"name": "cnn", "channels": [32, 64], "hidden": 128}  # no MLP keys
    assert filled["mlp"]["hidden"] == [50, 20] and filled["mlp"]["init"] == "default"
    for name, spec in filled.items():  # and every filled spec builds
        assert _build(spec, (1, 8, 8)) is not None


def test_image_architectures_reject_flat_input_shapes():
    with pytest.raises(ValueError, match="input_shape"):
        build_model(SMALL["cnn"], (2,), 10)
