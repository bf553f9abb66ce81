"""Every member's forward pass, loss and evaluation at once: shared by training (the engine) and by
evaluating many parameter vectors (a loss landscape's grid), so both compute the same numbers."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch
from torch.func import functional_call

from ..models import MLP

Forward = Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]


def population_forward(base: torch.nn.Module, device: torch.device) -> Forward:
    """``forward(params, buffers, x) -> [member, batch, out]`` for stacked ``[member, *shape]`` tensors.

    bf16 autocast on CUDA, float32 on CPU. MLPs take a path of their own (:func:`_mlp_forward`,
    tested equal to the vmapped module); other models are vmapped over ``functional_call``.
    The module's mode (train or eval: BatchNorm) is the caller's to set on ``base``.
    """
    amp = device.type == "cuda"
    if isinstance(base, MLP):
        return lambda params, buffers, x: _mlp_forward(base, params, x, device.type, amp)

    def one(params, buffers, x):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = functional_call(base, (params, buffers), (x,))
        return out.float()

    return torch.vmap(one, in_dims=(0, 0, None), randomness="error")


def _mlp_forward(base: MLP, params, x, device_type: str, amp: bool) -> torch.Tensor:
    """Every member's MLP output ``[member, batch, out]``, in the layout that suits CPU BLAS.

    Equal to the vmapped module (tested) but about 1.7x faster per training step: the shared
    minibatch makes the first layer of all members one GEMM, activations are kept as
    ``[member, features, batch]`` so every matmul and every weight gradient is contiguous (vmap's
    weight gradients come out transposed, which makes each optimizer pass strided).
    """
    layers = len(base.layers)
    bias = base.layers[0].bias is not None
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
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
    # contiguous: the loss's reductions along the class axis are slow on a strided view
    return h.transpose(1, 2).float().contiguous()


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
