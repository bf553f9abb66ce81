"""Every member's forward pass, loss and evaluation at once: shared by training (the engine) and by
evaluating many parameter vectors (a loss landscape's grid), so both compute the same numbers.

The arithmetic is the sweep's ``precision`` (config/schema/pipeline.yaml), on any device:

- ``fp32``: float32 everywhere; on CUDA with TF32 off for matmuls and convolutions (cuDNN's
  default would allow TF32 convolutions);
- ``tf32``: float32 storage, TF32 tensor-core matmuls and convolutions on CUDA; on CPU, which has
  no TF32, identical to ``fp32``;
- ``bf16``: the forward under bf16 autocast on the device in use, CPU included (torch's CPU
  autocast), so a config computes the same arithmetic with or without a GPU; outputs are cast to
  float32 before the loss. (Vmapped convolutions escape CPU autocast and run in float32: one more
  reason for the conv nets' folded path, whose convolutions are bf16 on either device.)
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..models import CNN, MLP, ResNet9, WideResNet
from .settings import PRECISIONS

# models with a folded path (:func:`_folded_forward`)
FOLDED = (CNN, ResNet9, WideResNet)

Forward = Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]


def check_precision(precision: str) -> str:
    """``precision`` itself, or ValueError when it is not one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


@contextmanager
def tf32_flags(enabled: bool) -> Iterator[None]:
    """TF32 for CUDA matmuls and cuDNN convolutions on or off inside the block, restored after it.

    The flags are process-global; restoring them (on exceptions too) keeps one computation's
    precision from leaking into any other code of the process.
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """The float32 matmul mode of ``precision`` on ``device`` inside the block: TF32 on CUDA for
    ``tf32`` only, off for ``fp32`` and ``bf16`` (what autocast leaves in float32 stays float32).

    Wraps a backward pass as well as the forward: the flags are read when a kernel runs. On CPU
    nothing is set (the flags concern CUDA kernels only).
    """
    check_precision(precision)
    if torch.device(device).type != "cuda":
        yield
        return
    with tf32_flags(precision == "tf32"):
        yield


@contextmanager
def precision_context(precision: str, device: torch.device) -> Iterator[None]:
    """A forward pass's arithmetic for ``precision`` on ``device``: :func:`matmul_precision`, and
    bf16 autocast for ``bf16`` (on CPU too)."""
    device = torch.device(device)
    with ExitStack() as stack:
        stack.enter_context(matmul_precision(precision, device))
        if precision == "bf16":
            stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
        yield


def population_forward(base: torch.nn.Module, device: torch.device, *, precision: str) -> Forward:
    """``forward(params, buffers, x) -> [member, batch, out]`` (float32) for stacked ``[member, *shape]`` tensors.

    Parameters
    ----------
    base : nn.Module
        The population's template network; its mode (train or eval: BatchNorm) is the caller's
        to set.
    device : torch.device
        Where the tensors are (decides which autocast and whether TF32 flags apply).
    precision : {"fp32", "tf32", "bf16"}
        The sweep's ``precision`` (module docstring); a caller that differentiates the output
        wraps its backward pass in :func:`matmul_precision` too.

    Notes
    -----
    MLPs take a path of their own (:func:`_mlp_forward`), and so do the convolutional networks
    (:func:`_folded_forward`: the members folded into the channels), both tested equal to
    :func:`vmapped_forward`, which any other model uses. The own paths dispatch far fewer ops per
    step (no vmap batching rules: every reshape and permute of theirs is an op of its own, ~10-25 us
    of host time each on a GPU).
    """
    check_precision(precision)
    device = torch.device(device)
    if isinstance(base, MLP):
        def mlp(params, buffers, x):
            with precision_context(precision, device):
                out = _mlp_forward(base, params, x)
            # contiguous: the loss's reductions along the class axis are slow on a strided view
            return out.float().contiguous()

        return mlp
    if isinstance(base, FOLDED):
        def folded(params, buffers, x):
            with precision_context(precision, device):
                out = _folded_forward(base, params, buffers, x)
            return out.float().contiguous()

        return folded
    return vmapped_forward(base, device, precision=precision)


def vmapped_forward(base: torch.nn.Module, device: torch.device, *, precision: str) -> Forward:
    """:func:`population_forward` by ``torch.vmap`` over ``functional_call``: any model, and the
    reference that the own paths of MLPs and convolutional networks are tested against."""
    check_precision(precision)
    device = torch.device(device)

    def one(params, buffers, x):
        return functional_call(base, (params, buffers), (x,)).float()

    vmapped = torch.vmap(one, in_dims=(0, 0, None), randomness="error")

    def forward(params, buffers, x):
        with precision_context(precision, device):
            return vmapped(params, buffers, x)

    return forward


class _Folded:
    """Layers of every member at once on activations ``[batch, member * channels, H, W]``.

    Member ``i``'s channels are ``i * C ... (i + 1) * C - 1``: a convolution of all members is one
    grouped convolution (``groups=members``; the first, on the shared input, an ordinary one with
    every member's filters stacked), a BatchNorm of all members is one ``F.batch_norm`` over
    ``member * C`` channels, whose running statistics ``[member, C]`` it updates in place (they
    must be contiguous then: the engine's are). This is what vmap's batching rules compute too,
    without their reshapes and permutes around every layer.
    """

    def __init__(self, base: torch.nn.Module, params, buffers):
        self.params, self.buffers = params, buffers
        self.members = next(iter(params.values())).shape[0]
        self.modules = dict(base.named_modules())

    def conv(self, h: torch.Tensor, name: str, shared: bool = False) -> torch.Tensor:
        module = self.modules[name]
        weight = self.params[f"{name}.weight"]
        weight = weight.reshape(-1, *weight.shape[2:])
        bias = self.params.get(f"{name}.bias")
        if bias is not None:
            bias = bias.reshape(-1)
        groups = 1 if shared else self.members
        return F.conv2d(h, weight, bias, module.stride, module.padding, module.dilation, groups)

    def batch_norm(self, h: torch.Tensor, name: str) -> torch.Tensor:
        module = self.modules[name]
        weight, bias = (self.params[f"{name}.{k}"].reshape(-1) for k in ("weight", "bias"))
        mean, var = (self.buffers[f"{name}.running_{k}"] for k in ("mean", "var"))
        if module.training:
            # in place, as nn.BatchNorm2d does: a view, never a copy, of the running statistics
            mean, var = mean.view(-1), var.view(-1)
            self.buffers[f"{name}.num_batches_tracked"].add_(1)
        else:
            mean, var = mean.reshape(-1), var.reshape(-1)
        return F.batch_norm(h.float(), mean, var, weight, bias, module.training, module.momentum, module.eps)

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """``[batch, member * C, ...]`` to each member's flattened features ``[member, batch, C * ...]``."""
        return h.reshape(h.shape[0], self.members, -1).transpose(0, 1)

    def unfold(self, h: torch.Tensor) -> torch.Tensor:
        """``[batch, member * C, ...]`` to ``[member, batch, C, ...]`` (an activation as vmap returns it)."""
        return h.reshape(h.shape[0], self.members, -1, *h.shape[2:]).transpose(0, 1)

    def linear(self, h: torch.Tensor, name: str) -> torch.Tensor:
        """``[member, batch, in]`` to ``[member, batch, out]``."""
        weight = self.params[f"{name}.weight"].transpose(1, 2)
        bias = self.params.get(f"{name}.bias")
        return torch.bmm(h, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), h, weight)


def _folded_forward(base: torch.nn.Module, params, buffers, x: torch.Tensor, acts: dict | None = None) -> torch.Tensor:
    """Every member's output ``[member, batch, out]`` of a CNN, ResNet-9 or Wide ResNet (see
    :class:`_Folded`), in whatever precision context the caller set; BatchNorm in ``base``'s mode.

    With ``acts`` (a dict), fills it with every layer of ``base.layer_names`` as
    ``[member, batch, ...]`` (the layers of the models' ``return_activations``).
    """
    f = _Folded(base, params, buffers)
    keep = (lambda name, h: acts.__setitem__(name, f.unfold(h))) if acts is not None else (lambda name, h: None)
    h = x.reshape(x.shape[0], *base.image_shape)
    if isinstance(base, CNN):
        for i, pool in enumerate(base.pools):
            h = pool(F.relu(f.conv(h, f"convs.{i}", shared=i == 0)))
            keep(f"conv{i + 1}", h)
        h = F.relu(f.linear(f.features(h), "fc"))
        if acts is not None:
            acts["fc"] = h
        out = f.linear(h, "head")
    elif isinstance(base, ResNet9):
        def conv_bn(h, name, shared=False):
            return F.relu(f.batch_norm(f.conv(h, f"{name}.conv", shared), f"{name}.bn"))

        h = conv_bn(h, "prep", shared=True)
        keep("prep", h)
        for name in ("layer1", "layer2", "layer3"):
            layer = getattr(base, name)
            h = layer.pool(conv_bn(h, f"{name}.conv"))
            if layer.residual:
                h = h + conv_bn(conv_bn(h, f"{name}.res1"), f"{name}.res2")
            keep(name, h)
        h = f.features(base.pool(h))
        if acts is not None:
            acts["pool"] = h
        out = f.linear(h, "head")
    else:  # Wide ResNet: pre-activation blocks (models._WideBlock)
        h = f.conv(h, "conv1", shared=True)
        keep("conv1", h)
        for g in (1, 2, 3):
            for i, block in enumerate(getattr(base, f"group{g}")):
                name = f"group{g}.{i}"
                pre = F.relu(f.batch_norm(h, f"{name}.bn1"))
                out = f.conv(F.relu(f.batch_norm(f.conv(pre, f"{name}.conv1"), f"{name}.bn2")), f"{name}.conv2")
                h = out + (f.conv(pre, f"{name}.shortcut") if block.projection else h)
            keep(f"group{g}", h)
        h = f.features(base.pool(F.relu(f.batch_norm(h, "bn"))))
        if acts is not None:
            acts["pool"] = h
        out = f.linear(h, "fc")
    if acts is not None:
        acts["output"] = out
    return out


def folded_activations(base: torch.nn.Module, params, buffers, x: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """Every layer's activations ``{name: [member, batch, ...]}`` by the folded path, for the
    models that have one (:data:`FOLDED`; None for others), in whatever precision context the
    caller set: what the engine's forward computes, layer by layer (:mod:`.readout`)."""
    if not isinstance(base, FOLDED):
        return None
    acts: dict[str, torch.Tensor] = {}
    _folded_forward(base, params, buffers, x, acts)
    return acts


def _mlp_forward(base: MLP, params, x) -> torch.Tensor:
    """Every member's MLP output ``[member, batch, out]``, in the layout that suits CPU BLAS, in
    whatever precision context the caller set.

    Equal to the vmapped module (tested) but about 1.7x faster per training step: the shared
    minibatch makes the first layer of all members one GEMM, activations are kept as
    ``[member, features, batch]`` so every matmul and every weight gradient is contiguous (vmap's
    weight gradients come out transposed, which makes each optimizer pass strided).
    """
    layers = len(base.layers)
    bias = base.layers[0].bias is not None
    weight = params["layers.0.weight"]
    m, width, fan_in = weight.shape
    # every member's first layer on the one shared minibatch as one GEMM: faster, copy of the
    # weights included (the trainer's are strided views of its flat buffer), than a batched GEMM
    # over an expanded input that takes them as they are (measured: ~0.9 against ~1.35 ms per
    # forward and backward of 200 members 64-50, batch 32)
    flat_weight, x = weight.reshape(m * width, fan_in), x.flatten(1).T
    if bias:
        h = torch.addmm(params["layers.0.bias"].reshape(m * width, 1), flat_weight, x)
    else:
        h = flat_weight @ x
    h = h.view(m, width, -1)
    for i in range(1, layers):
        h = base.activation(h)
        weight = params[f"layers.{i}.weight"]
        h = torch.baddbmm(params[f"layers.{i}.bias"][:, :, None], weight, h) if bias else torch.bmm(weight, h)
    return h.transpose(1, 2)


def member_losses(out: torch.Tensor, y: torch.Tensor, classification: bool, reduction: str = "mean"):
    """Per-member loss and correct count from outputs ``[member, batch, ...]``.

    ``y`` is ``[member, batch]`` (each member's targets) or ``[batch]`` (shared). Computed over
    all members at once, as logsumexp minus the target logit: the same cross-entropy as
    F.cross_entropy, ~3x faster here because torch's CPU log-softmax is slow along a short
    (10-class) last dimension. Regression: squared error.
    """
    m = out.shape[0]
    if y.dim() == 1:
        y = y.expand(m, -1)
    if classification:
        loss = torch.logsumexp(out, -1) - out.gather(-1, y.unsqueeze(-1)).squeeze(-1)
        correct = (out.argmax(-1) == y).sum(1)
    else:
        loss = (out.squeeze(-1) - y).square()
        correct = torch.zeros(m, dtype=torch.int64, device=out.device)
    return (loss.mean(1) if reduction == "mean" else loss.sum(1)), correct


@torch.no_grad()
def evaluate_members(
    forward: Forward,
    base: torch.nn.Module,
    params: Mapping[str, torch.Tensor],
    buffers: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    classification: bool,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss and accuracy of every member on ``(x, y)`` in eval mode (NaN accuracy for
    regression). ``y`` is ``[n]`` or ``[member, n]``."""
    base.eval()
    m = next(iter(params.values())).shape[0]
    device = x.device
    loss = torch.zeros(m, dtype=torch.float64, device=device)
    correct = torch.zeros(m, dtype=torch.int64, device=device)
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        yb = y[..., start : start + batch_size]
        batch_loss, batch_correct = member_losses(forward(params, buffers, xb), yb, classification, "sum")
        loss += batch_loss.double()
        correct += batch_correct
    n = len(x)
    accuracy = (correct.double() / n).cpu().numpy() if classification else np.full(m, np.nan)
    return (loss / n).cpu().numpy(), accuracy
