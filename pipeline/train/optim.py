"""Per-member SGD and Adam over stacked parameters ``[member, *shape]``.

Written here rather than taken from ``torch.optim`` because torch.optim keeps one hyperparameter
value per parameter tensor, while a stacked tensor holds many members that each need their own
learning rate, momentum and weight decay. They follow torch.optim.SGD (dampening 0, no Nesterov,
L2 decay added to the gradient) and torch.optim.Adam (L2 decay added to the gradient; beta1 = the
member's momentum, beta2 = 0.999, eps = 1e-8) exactly (tested against them).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8


def per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``[member]`` vector shaped to broadcast against ``[member, *shape]``."""
    return values.reshape(values.shape + (1,) * (like.dim() - 1))


def optimizer_slots(optimizer: str) -> tuple[str, ...]:
    """Names of the per-parameter state tensors an optimizer keeps (first and second moments)."""
    return ("m",) if optimizer == "sgd" else ("m", "v")


def member_update(
    optimizer: str,
    params: Sequence[torch.Tensor],
    names: Sequence[str],
    grads: list[torch.Tensor],
    state: Mapping[str, dict[str, torch.Tensor]],
    lr: torch.Tensor,
    momentum: torch.Tensor,
    weight_decay: torch.Tensor,
    step: int,
) -> None:
    """One optimizer step of every member, in place on ``params`` and ``state``.

    Parameters
    ----------
    optimizer : {"sgd", "adam"}
    params : sequence of Tensor
        Stacked parameters ``[member, *shape]`` (leaf tensors, updated without autograd).
    names : sequence of str
        Their names: the keys of each slot of ``state``.
    grads : list of Tensor
        Their gradients (consumed: SGD keeps them as the new momentum buffers).
    state : mapping
        ``{slot: {name: tensor}}`` for the slots of :func:`optimizer_slots`.
    lr, momentum, weight_decay : Tensor
        ``[member]`` values (lr already scaled by the schedule and zero for frozen members).
    step : int
        0-based index of this step (Adam's bias correction).

    Notes
    -----
    In-place ``_foreach`` arithmetic, fused where possible: on CPU each pass over the stacked
    parameters is memory-bound, so the number of passes sets the optimizer's cost.
    """
    wd = [per_member(weight_decay, p) for p in params]
    mom = [per_member(momentum, p) for p in params]
    neg_lr = [per_member(-lr, p) for p in params]
    torch._foreach_addcmul_(grads, params, wd)  # L2 decay added to the gradient, as torch.optim does
    m = [state["m"][k] for k in names]
    if optimizer == "sgd":
        torch._foreach_addcmul_(grads, m, mom)  # grads become the new momentum: g + mu * m
        for k, new in zip(names, grads):
            state["m"][k] = new
        torch._foreach_addcmul_(params, grads, neg_lr)  # p -= lr * m
        return
    v = [state["v"][k] for k in names]
    t = step + 1
    torch._foreach_mul_(m, mom)
    torch._foreach_addcmul_(m, grads, [1 - b for b in mom])
    torch._foreach_mul_(v, ADAM_BETA2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - ADAM_BETA2)
    denom = torch._foreach_sqrt(v)
    torch._foreach_div_(denom, math.sqrt(1 - ADAM_BETA2**t))
    torch._foreach_add_(denom, ADAM_EPS)
    step_sizes = torch._foreach_div(neg_lr, [1 - b**t for b in mom])
    torch._foreach_addcdiv_(params, torch._foreach_mul(m, step_sizes), denom)


def flat_update(
    optimizer: str,
    params: torch.Tensor,
    grads: torch.Tensor,
    state: Mapping[str, torch.Tensor],
    lr: torch.Tensor,
    momentum: torch.Tensor,
    weight_decay: torch.Tensor,
    step: int,
) -> None:
    """:func:`member_update` on flat member-major buffers ``[member, numel]``: a handful of ops
    whatever the number of parameter tensors (each a view into these buffers).

    Parameters
    ----------
    optimizer : {"sgd", "adam"}
    params, grads : Tensor
        ``[member, numel]``: every parameter of each member in one row (``grads`` is consumed:
        L2 decay is added to it).
    state : mapping
        ``{slot: Tensor [member, numel]}`` for the slots of :func:`optimizer_slots`, updated in place.
    lr, momentum, weight_decay : Tensor
        ``[member]`` values (lr already scaled by the schedule and zero for frozen members).
    step : int
        0-based index of this step (Adam's bias correction).

    Notes
    -----
    The same arithmetic as :func:`member_update`, in the same order; every tensor keeps its
    address (in-place updates only), as a CUDA graph needs.
    """
    wd, mom, neg_lr = weight_decay[:, None], momentum[:, None], (-lr)[:, None]
    grads.addcmul_(params, wd)  # L2 decay added to the gradient, as torch.optim does
    m = state["m"]
    if optimizer == "sgd":
        torch.addcmul(grads, m, mom, out=m)  # the new momentum: g + mu * m
        params.addcmul_(m, neg_lr)  # p -= lr * m
        return
    v = state["v"]
    t = step + 1
    m.mul_(mom).addcmul_(grads, 1 - mom)
    v.mul_(ADAM_BETA2).addcmul_(grads, grads, value=1 - ADAM_BETA2)
    denom = v.sqrt().div_(math.sqrt(1 - ADAM_BETA2**t)).add_(ADAM_EPS)
    step_size = neg_lr / (1 - mom**t)
    params.addcdiv_(m * step_size, denom)
