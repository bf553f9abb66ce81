"""Every member's forward pass, loss and evaluation at once: shared by training (the engine) and by
evaluating many parameter vectors (a loss landscape's grid), so both compute the same numbers.

The arithmetic is the sweep's ``precision`` (config/schema/pipeline.yaml), on any device:

- ``fp32``: float32 everywhere; on CUDA with TF32 off for matmuls and convolutions (cuDNN's
  default would allow TF32 convolutions);
- ``tf32``: float32 storage, TF32 tensor-core matmuls and convolutions on CUDA; on CPU, which has
  no TF32, identical to ``fp32``;
- ``bf16``: the forward under bf16 autocast on the device in use, CPU included (torch's CPU
  autocast), so a config computes the same arithmetic with or without a GPU; outputs are cast to
  float32 before the loss.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch.func import functional_call

from ..models import MLP
from .settings import PRECISIONS

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
    MLPs take a path of their own (:func:`_mlp_forward`, tested equal to the vmapped module);
    other models are vmapped over ``functional_call``.
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

    def one(params, buffers, x):
        return functional_call(base, (params, buffers), (x,)).float()

    vmapped = torch.vmap(one, in_dims=(0, 0, None), randomness="error")

    def forward(params, buffers, x):
        with precision_context(precision, device):
            return vmapped(params, buffers, x)

    return forward


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
