"""Per-member SGD and Adam over every parameter of a population at once.

Written here rather than taken from ``torch.optim`` because torch.optim keeps one hyperparameter
value per parameter tensor, while a stacked tensor holds many members that each need their own
learning rate, momentum and weight decay. They follow torch.optim.SGD (dampening 0, no Nesterov,
L2 decay added to the gradient) and torch.optim.Adam (L2 decay added to the gradient; beta1 = the
member's momentum, beta2 = 0.999, eps = 1e-8) exactly (tested against them).
"""

from __future__ import annotations

from typing import Mapping

import torch

ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8


def optimizer_slots(optimizer: str) -> tuple[str, ...]:
    """Names of the per-parameter state tensors an optimizer keeps (first and second moments)."""
    return ("m",) if optimizer == "sgd" else ("m", "v")


def flat_update(
    optimizer: str,
    params: torch.Tensor,
    grads: torch.Tensor,
    state: Mapping[str, torch.Tensor],
    lr: torch.Tensor,
    momentum: torch.Tensor,
    weight_decay: torch.Tensor,
    step: torch.Tensor,
) -> None:
    """One optimizer step of every member, in place, on flat member-major buffers
    ``[member, numel]``: a handful of ops whatever the number of parameter tensors (each a view
    into these buffers).

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
    step : Tensor
        0-based index of this step (Adam's bias correction), a 0-dim tensor on the device.

    Notes
    -----
    In-place arithmetic, fused where possible: on CPU each pass over the parameters is
    memory-bound, so the number of passes sets the optimizer's cost. Every state tensor keeps its
    address and no Python number varies between steps, as a CUDA graph needs.
    """
    wd, mom, neg_lr = weight_decay[:, None], momentum[:, None], (-lr)[:, None]
    grads.addcmul_(params, wd)  # L2 decay added to the gradient, as torch.optim does
    m = state["m"]
    if optimizer == "sgd":
        torch.addcmul(grads, m, mom, out=m)  # the new momentum: g + mu * m
        params.addcmul_(m, neg_lr)  # p -= lr * m
        return
    v = state["v"]
    # bias corrections in float64, as torch.optim computes them (in Python): 1 - beta^t of a
    # float32 beta loses ~1e-4 of its relative precision at small t
    t = (step + 1).double()
    m.mul_(mom).addcmul_(grads, 1 - mom)
    v.mul_(ADAM_BETA2).addcmul_(grads, grads, value=1 - ADAM_BETA2)
    denom = v.sqrt().div_(torch.sqrt(1 - torch.pow(ADAM_BETA2, t)).float()).add_(ADAM_EPS)
    step_size = neg_lr / (1 - torch.pow(mom.double(), t)).float()
    params.addcdiv_(m * step_size, denom)
