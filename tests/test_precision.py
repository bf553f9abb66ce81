"""A sweep's ``precision``: bf16 autocast (on CPU through torch's CPU autocast) agrees with fp32
within bf16's resolution for every architecture, and really computes in bf16; the setting is
validated, carried in the population spec and evaluated in by the studies; TF32 flags never leak."""

import numpy as np
import pytest
import torch

from pipeline import zoo
from pipeline.config import ConfigError, validate_config
from pipeline.data import load_dataset
from pipeline.train import (
    Member,
    PopulationTrainer,
    TrainingSettings,
    initial_population,
    population_activations,
    population_forward,
)
from pipeline.train.forward import matmul_precision, member_losses, precision_context, tf32_flags

CPU = torch.device("cpu")
SMALL = {
    "mlp": {"name": "mlp", "hidden": [12, 6]},
    "cnn": {"name": "cnn", "channels": [4, 8], "hidden": 16},
    "resnet9": {"name": "resnet9", "width": 8},
    "wide_resnet": {"name": "wide_resnet", "depth": 10, "width": 1},
}
# bf16 keeps 8 significant bits: each rounding is off by at most 2^-9 ~ 2e-3 relative, and a few
# layers of roundings partly cancel (measured: 2-3e-3 for outputs, <5e-3 for gradients). 3e-2 is
# ~15 roundings' worth: far above what bf16 does to these tiny networks, far below what a wrong
# computation (another input, a missing layer, a BatchNorm in the wrong mode) does to them.
BF16_RTOL = 3e-2
# A step's update is a mean of per-example gradients that partly cancel, each off by bf16's
# ~3e-3: relative to the (smaller) mean the error grows by the cancellation ratio (measured on
# this step: 2-4e-3 for the MLP, 3.6e-2 for one of the CNN's members, up to 6e-2 on other
# batches). The BatchNorm nets' backward subtracts batch means, which cancels more: 12-13 % here,
# as for one network alone under torch.autocast (16 % ResNet-9, 12 % WRN-10-1, measured; until the
# folded forward the vmapped convolutions escaped CPU autocast and ran in float32, hence the 2-4e-3
# once measured for them). A wrong update (sign, scale, a missing layer) is off by O(1).
UPDATE_RTOL = 2.5e-1
# float32 reorderings differ by ~1e-7 relative: a difference above this means bf16 took effect.
TOOK_EFFECT = 1e-4


def members(n=2):
    return [Member(lr=0.1, momentum=0.0, weight_decay=0.0, init_seed=seed, label_noise=0.0) for seed in range(n)]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n_samples=120)


@pytest.mark.parametrize("arch", list(SMALL))
def test_bf16_forward_agrees_with_fp32_within_bf16_resolution_and_differs(arch, digits):
    torch.set_num_threads(1)
    base, params, buffers = initial_population(SMALL[arch], digits.input_shape, digits.num_outputs, members())
    x, y = digits.x_train[:16], digits.y_train[:16]
    out, loss = {}, {}
    for precision in ("fp32", "bf16"):
        base.eval()
        out[precision] = population_forward(base, CPU, precision=precision)(params, buffers, x)
        loss[precision] = member_losses(out[precision], y, True)[0]
    assert out["bf16"].dtype == torch.float32  # cast before the loss
    assert relative(out["bf16"], out["fp32"]) < BF16_RTOL
    assert relative(loss["bf16"], loss["fp32"]) < BF16_RTOL
    assert relative(out["bf16"], out["fp32"]) > TOOK_EFFECT


def test_tf32_on_cpu_is_fp32(digits):
    base, params, buffers = initial_population(SMALL["cnn"], digits.input_shape, digits.num_outputs, members())
    base.eval()
    x = digits.x_train[:8]
    fp32 = population_forward(base, CPU, precision="fp32")(params, buffers, x)
    torch.testing.assert_close(population_forward(base, CPU, precision="tf32")(params, buffers, x), fp32, rtol=0, atol=0)


@pytest.mark.parametrize("arch", list(SMALL))
def test_a_bf16_training_step_agrees_with_fp32_within_bf16_resolution_and_differs(arch, digits):
    """One step of the engine (the whole training set as one batch) in each precision: the same
    loss, update and evaluation within bf16's resolution, and not the same numbers."""
    torch.set_num_threads(1)
    population = members()
    results = {}
    for precision in ("fp32", "bf16"):
        base, params, buffers = initial_population(SMALL[arch], digits.input_shape, digits.num_outputs, population)
        settings = TrainingSettings(epochs=1, batch_size=len(digits.x_train), precision=precision)
        trainer = PopulationTrainer(base, params, buffers, population, digits, settings)
        epochs = []
        trainer.run(on_epoch_end=lambda epoch, metrics: epochs.append(metrics), progress=False)
        update = torch.cat([(trainer.params[k].detach() - params[k]).flatten(1) for k in params], 1)
        results[precision] = (update, epochs[0])
    (update32, metrics32), (update16, metrics16) = results["fp32"], results["bf16"]
    assert relative(update16, update32) < UPDATE_RTOL
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(metrics16[name], metrics32[name], rtol=BF16_RTOL)
    assert relative(update16, update32) > TOOK_EFFECT


def test_fp32_resolves_a_tiny_initialization_that_bf16_collapses(digits):
    """gabella_tiny's network (config/paper.yaml) at its N(0, 1e-6) initialization: its first
    sigmoid layer outputs 0.5 + O(1e-5), which float32 resolves and bf16 (whose neighbours of 0.5
    are 0.5 - 2^-9 and 0.5 + 2^-8) rounds to exactly 0.5, in the readout and in the engine's forward."""
    arch = {"name": "mlp", "hidden": [100, 100], "activation": "sigmoid", "bias": False, "init": "normal", "init_std": 1e-6}
    base, params, buffers = initial_population(arch, digits.input_shape, digits.num_outputs, members(1))
    x = digits.x_test
    distinct = {}
    for precision in ("fp32", "bf16"):
        hidden = population_activations(base, params, buffers, x, ["hidden1"], precision=precision)["hidden1"]
        distinct[precision] = len(torch.unique(hidden))
        # the engine's own path (pipeline.train.forward's MLP layout): the first layer's GEMM
        with precision_context(precision, CPU):
            engine = base.activation(params["layers.0.weight"][0] @ x.flatten(1).T)
        assert len(torch.unique(engine.float())) == distinct[precision]
    assert distinct["fp32"] > 50
    assert distinct["bf16"] == 1
    assert float(hidden.flatten()[0]) == 0.5


def test_the_schema_rejects_an_unknown_precision_naming_the_key():
    sweep = {"dataset": "digits", "architecture": {"name": "mlp"}}
    assert validate_config({"sweeps": {"s": sweep}})["sweeps"]["s"]["precision"] == "fp32"
    with pytest.raises(ConfigError, match=r"'sweeps\.s\.precision': 'fp16' is not one of"):
        validate_config({"sweeps": {"s": {**sweep, "precision": "fp16"}}})
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainingSettings(epochs=1, batch_size=1, precision="float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        population_forward(torch.nn.Linear(1, 1), CPU, precision="half")


def test_the_precision_is_part_of_the_population_spec_and_old_stores_read_as_fp32():
    sweep = {"dataset": "digits", "architecture": {"name": "mlp"}}
    specs = {
        p: zoo.population_spec(validate_config({"sweeps": {"s": {**sweep, "precision": p}}}), "s", 0) for p in ("fp32", "bf16")
    }
    assert specs["bf16"]["training"]["precision"] == "bf16"
    assert zoo.training_settings(specs["bf16"]["training"]).precision == "bf16"
    assert specs["bf16"] != specs["fp32"]  # a changed precision is another training (spec hash, Snakemake params)
    old = {**specs["bf16"], "training": {k: v for k, v in specs["bf16"]["training"].items() if k != "precision"}}
    assert zoo.spec_precision(old) == "fp32"


@pytest.mark.parametrize("initial", [(False, True), (True, False)])
def test_tf32_flags_are_set_inside_and_restored_after(initial):
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = tuple(f.allow_tf32 for f in flags)
    try:
        for flag, value in zip(flags, initial):
            flag.allow_tf32 = value
        cuda = torch.device("cuda")  # only the flags are touched: no GPU needed
        for precision, inside in (("tf32", True), ("fp32", False), ("bf16", False)):
            with matmul_precision(precision, cuda):
                assert [f.allow_tf32 for f in flags] == [inside, inside]
            assert tuple(f.allow_tf32 for f in flags) == initial
        with pytest.raises(RuntimeError, match="inside"), tf32_flags(not initial[0]):
            raise RuntimeError("inside")
        assert tuple(f.allow_tf32 for f in flags) == initial
        with matmul_precision("tf32", CPU):  # CPU kernels ignore the flags: left alone
            assert tuple(f.allow_tf32 for f in flags) == initial
    finally:
        for flag, value in zip(flags, saved):
            flag.allow_tf32 = value
