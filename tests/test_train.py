"""Population training engine: equals per-model torch.optim training, isolates divergence,
is deterministic, resumes bit-identically, and never waits for the device within a step."""

import itertools
import logging

import numpy as np
import pytest
import torch
from torch.func import functional_call

from pipeline.data import load_dataset
from pipeline.models import build_model
from pipeline.plan.profiles import OpCounter
from pipeline.train import (
    Member,
    PopulationTrainer,
    TrainingSettings,
    initial_population,
    population_activations,
    population_from_states,
)
from pipeline.train.forward import population_forward, vmapped_forward

ARCH = {"name": "mlp", "hidden": [12, 6]}


def make_member(lr, momentum=0.0, weight_decay=0.0, init_seed=0, label_noise=0.0):
    return Member(lr=lr, momentum=momentum, weight_decay=weight_decay, init_seed=init_seed, label_noise=label_noise)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n_samples=240)


def _trainer(data, members, **settings):
    settings = TrainingSettings(**{"epochs": 2, "batch_size": 50, **settings})
    base, params, buffers = initial_population(ARCH, data.input_shape, data.num_outputs, members)
    torch.set_num_threads(1)
    return PopulationTrainer(base, params, buffers, members, data, settings)


def _reference_run(data, member, trainer, optimizer):
    """One network trained alone with torch.optim on the trainer's exact minibatch sequence."""
    torch.manual_seed(member.init_seed)
    model = build_model(ARCH, data.input_shape, data.num_outputs)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=member.lr, momentum=member.momentum, weight_decay=member.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=member.lr, betas=(member.momentum, 0.999), weight_decay=member.weight_decay)
    for step in range(trainer.total_steps):
        epoch, within = divmod(step, trainer.steps_per_epoch)
        order = trainer._epoch_order(epoch)
        idx = order[within * trainer.settings.batch_size : (within + 1) * trainer.settings.batch_size]
        loss = torch.nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in model.named_parameters()}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_population_equals_networks_trained_alone(digits, optimizer):
    members = [
        make_member(lr=0.05, momentum=0.9, weight_decay=1e-3, init_seed=0),
        make_member(lr=0.01, momentum=0.5, weight_decay=0.0, init_seed=1),
        make_member(lr=0.002, momentum=0.8, weight_decay=1e-2, init_seed=2),
    ]
    trainer = _trainer(digits, members, optimizer=optimizer)
    trainer.run(progress=False)
    for i, member in enumerate(members):
        alone = _reference_run(digits, member, trainer, optimizer)
        for name, value in alone.items():
            torch.testing.assert_close(trainer.params[name][i].detach(), value, rtol=1e-4, atol=1e-5)


def test_diverging_member_leaves_the_others_unchanged(digits):
    good = [make_member(lr=lr, momentum=0.9, weight_decay=1e-4) for lr in (0.01, 0.05, 0.1)]
    bad = make_member(lr=1e8, momentum=0.9)
    with_bad = _trainer(digits, good[:2] + [bad] + good[2:])
    without = _trainer(digits, good)
    with_bad.run(progress=False)
    without.run(progress=False)
    diverged = with_bad.diverged_at.tolist()
    assert diverged[2] >= 0 and [d for i, d in enumerate(diverged) if i != 2] == [-1, -1, -1]
    for name in without.params:
        kept = with_bad.params[name].detach()[[0, 1, 3]]
        assert torch.isfinite(with_bad.params[name][2]).all()  # frozen, not NaN
        torch.testing.assert_close(kept, without.params[name].detach(), rtol=0, atol=1e-6)
    # the others' evaluation is unaffected too
    np.testing.assert_allclose(
        with_bad.evaluate(digits.x_test, digits.y_test)[0][[0, 1, 3]],
        without.evaluate(digits.x_test, digits.y_test)[0],
        rtol=1e-6,
    )


def test_same_seed_same_weights(digits):
    members = [make_member(lr=0.05, momentum=0.9), make_member(lr=0.1, momentum=0.5, init_seed=3)]
    runs = []
    for _ in range(2):
        trainer = _trainer(digits, members, augment=True)
        trainer.run(progress=False)
        runs.append(trainer.numpy_params())
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_resume_from_checkpoint_is_bit_identical(digits):
    members = [make_member(lr=0.05, momentum=0.9, weight_decay=1e-3), make_member(lr=0.2, momentum=0.5)]
    settings = dict(epochs=3, snapshot_every=4, optimizer="adam", milestones=(0.5,))
    full = _trainer(digits, members, **settings)
    checkpoints = {}
    full.run(on_checkpoint=lambda step, state: checkpoints.__setitem__(step, state), progress=False)
    middle = sorted(checkpoints)[len(checkpoints) // 2]
    assert 0 < middle < full.total_steps and middle % full.steps_per_epoch != 0  # mid-epoch
    resumed = _trainer(digits, members, **settings)
    resumed.load_state_dict(checkpoints[middle])
    assert resumed.step == middle
    resumed.run(progress=False)
    for name, value in full.numpy_params().items():
        np.testing.assert_array_equal(resumed.numpy_params()[name], value)


def test_resume_finds_the_thresholds_reached_after_the_checkpoint_at_the_same_steps(digits):
    members = [make_member(lr=0.1, momentum=0.9), make_member(lr=0.05, momentum=0.9, init_seed=2)]
    settings = dict(epochs=6, snapshot_every=3, thresholds=tuple(np.round(np.arange(0.1, 1.0, 0.05), 2)))
    full = _trainer(digits, members, **settings)
    checkpoints = {}
    full.run(on_checkpoint=lambda step, state: checkpoints.__setitem__(step, state), progress=False)
    first = min(checkpoints)
    assert (full.threshold_step > first).sum() >= 3  # thresholds crossed after the checkpoint
    resumed = _trainer(digits, members, **settings)
    resumed.load_state_dict(checkpoints[first])
    resumed.run(progress=False)
    np.testing.assert_array_equal(resumed.threshold_step, full.threshold_step)
    np.testing.assert_array_equal(resumed.threshold_accuracy, full.threshold_accuracy)


def test_label_noise_replaces_that_fraction_of_labels(digits):
    members = [make_member(lr=0.1), make_member(lr=0.1, label_noise=0.5), make_member(lr=0.1, label_noise=1.0)]
    trainer = _trainer(digits, members)
    changed = (trainer.y_train != digits.y_train[None, :]).float().mean(1)
    assert changed[0] == 0
    # a replaced label keeps its value with probability 1/10
    assert abs(changed[1] - 0.45) < 0.06 and abs(changed[2] - 0.9) < 0.06


def test_augmentation_is_a_crop_and_maybe_a_flip_of_each_image(digits):
    trainer = _trainer(digits, [make_member(lr=0.1)], augment=True)
    x = torch.rand(6, 1, 8, 8)
    out = trainer._augment(x, step=3)
    torch.testing.assert_close(out, trainer._augment(x, step=3))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for i in range(len(x)):
        candidates = [
            padded[i, :, dy : dy + 8, dx : dx + 8].flip(-1) if flip else padded[i, :, dy : dy + 8, dx : dx + 8]
            for dy, dx, flip in itertools.product(range(3), range(3), (False, True))
        ]
        assert any(torch.equal(out[i], c) for c in candidates)


def test_step_decay_schedule(digits):
    trainer = _trainer(digits, [make_member(lr=0.1)], epochs=4, milestones=(0.5, 0.75), gamma=0.1)
    total = trainer.total_steps
    assert trainer.lr_factor(0) == 1
    assert trainer.lr_factor(total // 2 - 1) == 1
    assert trainer.lr_factor(total // 2) == pytest.approx(0.1)
    assert trainer.lr_factor(total - 1) == pytest.approx(0.01)


def test_snapshot_steps_include_start_cadence_and_end():
    settings = TrainingSettings(epochs=2, batch_size=10, snapshot_every=7)
    assert settings.snapshot_steps(n_train=95) == [0, 7, 14, 20]
    assert TrainingSettings(epochs=2, batch_size=10).snapshot_steps(n_train=95) == [0, 10, 20]


@pytest.mark.parametrize(
    "architecture",
    [
        {"name": "mlp", "hidden": [12, 6]},
        {"name": "mlp", "hidden": [9], "activation": "tanh", "bias": False},
        {"name": "mlp", "hidden": [7, 5, 3], "activation": "gelu"},
    ],
)
def test_mlp_fast_path_equals_the_vmapped_module(digits, architecture):
    members = [make_member(lr=0.1, init_seed=seed) for seed in range(4)]
    base, params, buffers = initial_population(architecture, digits.input_shape, digits.num_outputs, members)
    trainer = PopulationTrainer(base, params, buffers, members, digits, TrainingSettings(epochs=1, batch_size=16))
    x = digits.x_train[:16]
    fast = trainer._forward_all(trainer.params, trainer.buffers, x)
    vmapped = torch.vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,)), in_dims=(0, 0, None))(
        trainer.params, trainer.buffers, x
    )
    assert fast.shape == (4, 16, digits.num_outputs)
    torch.testing.assert_close(fast, vmapped, rtol=1e-5, atol=1e-6)
    # and the weight gradients, which the optimizer then updates contiguously
    grads = torch.autograd.grad(fast.square().sum(), list(trainer.params.values()))
    expected = torch.autograd.grad(vmapped.square().sum(), list(trainer.params.values()))
    for got, want in zip(grads, expected):
        assert got.is_contiguous()
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_each_member_starts_from_its_own_state(digits):
    # jump-and-retrain: every member starts from its own point, given as stacked arrays
    members = [make_member(lr=0.05, init_seed=0), make_member(lr=0.05, init_seed=1)]
    _, fresh, buffers = initial_population(ARCH, digits.input_shape, digits.num_outputs, members)
    start = {k: v.detach().numpy() + np.arange(2, dtype=np.float32).reshape(-1, *[1] * (v.dim() - 1)) for k, v in fresh.items()}
    base, params, _ = population_from_states(ARCH, digits.input_shape, digits.num_outputs, start, {})
    for name, value in start.items():
        np.testing.assert_array_equal(params[name].numpy(), value)
    trainer = PopulationTrainer(base, params, buffers, members, digits, TrainingSettings(epochs=1, batch_size=50))
    snapshots = {}
    trainer.run(on_snapshot=lambda i, step, p, b: snapshots.setdefault(step, p), progress=False)
    for name, value in start.items():
        np.testing.assert_array_equal(snapshots[0][name], value)  # the run's first snapshot is that state
    with pytest.raises(ValueError, match="missing"):
        population_from_states(ARCH, digits.input_shape, digits.num_outputs, {"layers.0.weight": start["layers.0.weight"]}, {})
    bad = {**start, "layers.0.weight": start["layers.0.weight"][:, :3]}
    with pytest.raises(ValueError, match="layers.0.weight"):
        population_from_states(ARCH, digits.input_shape, digits.num_outputs, bad, {})


def test_activations_of_any_set_of_layers_equal_each_network_alone(digits):
    members = [make_member(lr=0.1, init_seed=seed) for seed in (0, 1, 2)]
    base, params, buffers = initial_population(ARCH, digits.input_shape, digits.num_outputs, members)
    x = digits.x_test[:7]
    acts = population_activations(base, params, buffers, x, ["input", "hidden1", "output"], batch_size=3, precision="fp32")
    assert list(acts) == ["input", "hidden1", "output"]
    for i, m in enumerate(members):
        torch.manual_seed(m.init_seed)
        alone = build_model(ARCH, digits.input_shape, digits.num_outputs).eval()
        out, layers = alone(x, return_activations=True)
        torch.testing.assert_close(acts["hidden1"][i], layers["hidden1"])
        torch.testing.assert_close(acts["output"][i], out)
        torch.testing.assert_close(acts["input"][i], x.flatten(1))  # as the MLP sees it
    with pytest.raises(ValueError, match="unknown layers"):
        population_activations(base, params, buffers, x, ["conv1"], precision="fp32")


def test_snapshot_metrics_score_each_snapshots_parameters(digits):
    # label noise too: the training metrics use each member's own (noisy) labels
    members = [make_member(lr=0.1, momentum=0.9), make_member(lr=0.05, label_noise=1.0)]
    trainer = _trainer(digits, members, epochs=2, snapshot_metrics=True)
    params, metrics = {}, {}
    trainer.run(
        on_snapshot=lambda i, step, p, b: params.__setitem__(i, p),
        on_snapshot_metrics=lambda i, m: metrics.__setitem__(i, m),
        progress=False,
    )
    assert sorted(metrics) == sorted(params) == [0, 1, 2]
    for index in (0, 2):
        # the same numbers as evaluating that snapshot's parameters afresh
        check = _trainer(digits, members)
        with torch.no_grad():
            for name, value in params[index].items():
                check.params[name].copy_(torch.as_tensor(value))
        loss, accuracy = check.evaluate(check.x_train, check.y_train)
        np.testing.assert_allclose(metrics[index]["train_loss"], loss, rtol=1e-6)
        np.testing.assert_allclose(metrics[index]["train_accuracy"], accuracy)
        test_loss, _ = check.evaluate(digits.x_test, digits.y_test)
        np.testing.assert_allclose(metrics[index]["test_loss"], test_loss, rtol=1e-6)
    assert metrics[2]["train_loss"][0] < metrics[0]["train_loss"][0]  # it learned


def test_a_threshold_snapshot_holds_the_first_step_at_or_above_its_threshold(digits):
    members = [make_member(lr=0.2, momentum=0.9, init_seed=0), make_member(lr=0.001, momentum=0.5, init_seed=1)]
    thresholds = (0.1, 0.2, 0.3, 0.999)
    trainer = _trainer(digits, members, epochs=6, snapshot_every=1, snapshot_metrics=True, thresholds=thresholds)
    params, accuracy, events = {}, {}, []
    trainer.run(
        on_snapshot=lambda i, step, p, b: params.__setitem__(step, p),
        on_snapshot_metrics=lambda i, m: accuracy.__setitem__(i, m["train_accuracy"]),
        on_threshold=lambda t, members, step, acc, p, b: events.append((t, list(members), step, acc, p)),
        progress=False,
    )
    steps = sorted(accuracy)  # snapshot i is step i here
    for m in range(len(members)):
        for t, threshold in enumerate(thresholds):
            reached = [s for s in steps if accuracy[s][m] >= threshold]
            recorded = trainer.threshold_step[m, t]
            if not reached:
                assert recorded == -1  # never reached: said so
                continue
            assert recorded == reached[0]  # the first step at or above the threshold
            [event] = [e for e in events if e[0] == t and m in e[1]]
            position = event[1].index(m)
            for name, value in event[4].items():
                np.testing.assert_array_equal(value[position], params[recorded][name][m])
    assert (trainer.threshold_step[0] >= 0).sum() >= 2 and trainer.threshold_step[1, -1] == -1


# Small convolutional nets on 8x8 digits: every layer kind the folded forward has (shared first
# convolution, grouped convolutions, strided and projection shortcuts, BatchNorm, pools, linear).
CONV = {
    "cnn": {"name": "cnn", "channels": [4, 8], "hidden": 16},
    "resnet9": {"name": "resnet9", "width": 4},
    "wide_resnet": {"name": "wide_resnet", "depth": 10, "width": 1},
}


def close(got: torch.Tensor, want: torch.Tensor, precision: str) -> None:
    if precision == "bf16" and got.is_floating_point():
        # bf16 keeps 8 significant bits: ~15 roundings' worth (as tests/test_precision.py)
        assert float((got - want).norm() / want.norm()) < 3e-2
    else:
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
@pytest.mark.parametrize("arch", list(CONV))
def test_folded_conv_forward_equals_the_vmapped_module(digits, arch, precision):
    """Outputs, gradients and BatchNorm statistics, in train then eval mode. bf16: the vmapped
    convolutions escape CPU autocast (float32), the folded ones do not, so they agree to bf16's
    resolution only; the float32 modes agree to float32 reorderings."""
    members = [make_member(lr=0.1, init_seed=seed) for seed in range(3)]
    base, params, buffers = initial_population(CONV[arch], digits.input_shape, digits.num_outputs, members)
    params = {k: v.requires_grad_(True) for k, v in params.items()}
    folded_buffers = {k: v.clone() for k, v in buffers.items()}
    x = digits.x_train[:16].reshape(16, 1, 8, 8)
    for train in (True, False):
        base.train(train)
        folded = population_forward(base, torch.device("cpu"), precision=precision)(params, folded_buffers, x)
        vmapped = vmapped_forward(base, torch.device("cpu"), precision=precision)(params, buffers, x)
        assert folded.shape == (3, 16, digits.num_outputs) and folded.dtype == torch.float32
        close(folded.detach(), vmapped.detach(), precision)
        for name in buffers:  # BatchNorm statistics (of bf16 or float32 activations) and batch counts
            close(folded_buffers[name], buffers[name], precision)
        if precision != "bf16":
            grads = torch.autograd.grad(folded.square().sum(), list(params.values()))
            expected = torch.autograd.grad(vmapped.square().sum(), list(params.values()))
            for got, want in zip(grads, expected):
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    if arch != "cnn":
        assert all(int(v.min()) == 1 for k, v in folded_buffers.items() if k.endswith("num_batches_tracked"))


@pytest.mark.parametrize("arch", [ARCH, CONV["wide_resnet"]])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_step_never_waits_for_the_device(digits, arch, optimizer):
    """No aten._local_scalar_dense (bool(tensor), .item(): a host sync on a GPU) in a step, not
    even in the step where a member diverges; and the step's op count does not grow with the
    number of parameter tensors (the update and the divergence check run on flat buffers)."""
    members = [make_member(lr=0.1, momentum=0.9, weight_decay=1e-3), make_member(lr=0.1, momentum=0.9, init_seed=1)]
    base, params, buffers = initial_population(arch, digits.input_shape, digits.num_outputs, members)
    settings = TrainingSettings(epochs=1, batch_size=16, optimizer=optimizer, augment=True)
    trainer = PopulationTrainer(base, params, buffers, members, digits, settings)
    x, y = digits.x_train[:16].reshape(16, 1, 8, 8), trainer.y_train[:, :16]
    for step in range(4):
        if step == 2:  # member 1 diverges in this step
            with torch.no_grad():
                next(iter(trainer.params.values()))[1].fill_(float("inf"))
        counter = OpCounter()
        with counter:
            trainer._train_step(trainer._augment(x, step), y, 1.0)
        trainer.step += 1
        assert counter.ops["aten._local_scalar_dense"] == 0
    assert trainer.diverged_at.tolist() == [-1, 2]
    # the optimizer and the divergence check: a fixed number of ops, not a few per parameter tensor
    update = counter.ops["aten.addcmul_"] + counter.ops["aten.addcmul"] + counter.ops["aten.isfinite"]
    assert update <= 6, counter.ops


def test_a_diverging_member_is_frozen_at_its_exact_step_and_logged(digits, caplog):
    """Member 1's output weights are made huge before step 5: its loss overflows and it is
    frozen at step 5 (its parameters and BatchNorm statistics stay as they were), logged once
    with that step by the end of the epoch, and the others train on as if it were not there."""
    arch = CONV["wide_resnet"]
    members = [make_member(lr=0.05, momentum=0.9, init_seed=s) for s in range(3)]

    def trainer_with(poison):
        base, params, buffers = initial_population(arch, digits.input_shape, digits.num_outputs, members)
        trainer = PopulationTrainer(base, params, buffers, members, digits, TrainingSettings(epochs=1, batch_size=32))
        step = trainer._train_step
        seen = {}

        def poisoned(x, y, lr_factor):
            if poison and trainer.step == 5:
                with torch.no_grad():
                    trainer.params["fc.weight"][1].fill_(1e38)  # finite, but the logits overflow
                seen["params"] = {k: v[1].detach().clone() for k, v in trainer.params.items()}
                seen["buffers"] = {k: v[1].clone() for k, v in trainer.buffers.items()}
            step(x, y, lr_factor)

        trainer._train_step = poisoned
        return trainer, seen

    trainer, seen = trainer_with(poison=True)
    clean, _ = trainer_with(poison=False)
    with caplog.at_level(logging.WARNING, logger="pipeline.train.engine"):
        trainer.run(progress=False)
    clean.run(progress=False)
    assert trainer.diverged_at.tolist() == [-1, 5, -1]
    assert trainer.active.tolist() == [True, False, True]
    messages = [r.getMessage() for r in caplog.records if "diverged" in r.getMessage()]
    assert messages == ["member 1 diverged at step 5: frozen"]
    for name, value in seen["params"].items():
        torch.testing.assert_close(trainer.params[name][1].detach(), value, rtol=0, atol=0)
    for name, value in seen["buffers"].items():
        torch.testing.assert_close(trainer.buffers[name][1], value, rtol=0, atol=0)
    for name in clean.params:
        torch.testing.assert_close(trainer.params[name][[0, 2]].detach(), clean.params[name][[0, 2]].detach(), rtol=0, atol=0)
    for name in clean.buffers:
        torch.testing.assert_close(trainer.buffers[name][[0, 2]], clean.buffers[name][[0, 2]], rtol=0, atol=0)


def test_parameters_and_optimizer_slots_live_in_flat_buffers(digits):
    """Views into one member-major buffer each, updated in place: the addresses a CUDA graph
    captures stay valid across steps and across a resume."""
    trainer = _trainer(digits, [make_member(lr=0.1, momentum=0.9), make_member(lr=0.05, init_seed=1)], optimizer="adam")
    flat = trainer._flat
    pointers = {k: v.data_ptr() for k, v in trainer.params.items()}
    for name, param in trainer.params.items():
        assert param.is_leaf and param.requires_grad and param._base is flat
        for slot in trainer.opt:
            assert trainer.opt[slot][name]._base is trainer._flat_opt[slot]
    state = trainer.state_dict()
    trainer.run(progress=False)
    trainer.load_state_dict(state)
    assert {k: v.data_ptr() for k, v in trainer.params.items()} == pointers
    for name, value in trainer.numpy_params().items():
        np.testing.assert_array_equal(value, state[f"params__{name}"])


@pytest.mark.parametrize("arch", list(CONV))
def test_conv_activations_are_the_engines_forward_layer_by_layer(digits, arch):
    """The readout of the convolutional nets (their folded path) equals the vmapped modules'
    layers in float32, and in bf16 it really computes in bf16, as the engine's forward does."""
    members = [make_member(lr=0.1, init_seed=seed) for seed in range(2)]
    base, params, buffers = initial_population(CONV[arch], digits.input_shape, digits.num_outputs, members)
    x = digits.x_test[:7]
    layers = ["input", *base.layer_names]
    acts = population_activations(base, params, buffers, x, layers, batch_size=4, precision="fp32")
    base.eval()
    vmapped = torch.vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,), {"return_activations": True})[1],
                         in_dims=(0, 0, None))(params, buffers, x)
    for name in base.layer_names:
        torch.testing.assert_close(acts[name], vmapped[name], rtol=1e-5, atol=1e-5)
    bf16 = population_activations(base, params, buffers, x, ["output"], precision="bf16")["output"]
    engine = population_forward(base, torch.device("cpu"), precision="bf16")(params, buffers, x)
    torch.testing.assert_close(bf16, engine, rtol=0, atol=0)
    assert float((bf16 - acts["output"]).norm() / acts["output"].norm()) > 1e-4  # bf16 took effect
