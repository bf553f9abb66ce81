"""Activations of any set of layers of every member of a population."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch.func import functional_call

from .forward import FOLDED, folded_activations, precision_context


@torch.no_grad()
def population_activations(
    base: torch.nn.Module,
    params: Mapping[str, torch.Tensor],
    buffers: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    layers: Sequence[str],
    batch_size: int = 1024,
    *,
    precision: str,
) -> dict[str, torch.Tensor]:
    """Activations ``{layer: [member, n, *shape]}`` of every member on inputs ``x`` (eval mode).

    Parameters
    ----------
    base : nn.Module
        The population's template network (:mod:`pipeline.train.init`).
    params, buffers : mapping
        Stacked tensors ``[member, *shape]``.
    x : Tensor
        Inputs ``[n, *input_shape]``, shared by every member.
    layers : sequence of str
        Names from ``base.layer_names``, plus ``"input"`` for the inputs themselves (as each
        member sees them: flattened for an MLP, as given otherwise).
    batch_size : int
        Inputs per vectorized forward pass.
    precision : {"fp32", "tf32", "bf16"}
        The arithmetic of the forward pass (:mod:`pipeline.train.forward`): the precision of the
        sweep that trained the parameters, so that a study reads what training computed.
        Activations come back as float32 whatever it is.
    """
    unknown = [name for name in layers if name != "input" and name not in base.layer_names]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; the network has {list(base.layer_names)} and 'input'")
    wanted = [name for name in layers if name != "input"]
    base.eval()

    def one(p, b, xb):
        acts = functional_call(base, (p, b), (xb,), {"return_activations": True})[1]
        return tuple(acts[name].float() for name in wanted)

    def folded(p, b, xb):
        acts = folded_activations(base, p, b, xb)
        return tuple(acts[name].float() for name in wanted)

    members = next(iter(params.values())).shape[0]
    out = {name: [] for name in wanted}
    # The convolutional nets' folded path is the engine's forward: under bf16 its convolutions
    # run in bf16, which vmapped ones do not (they escape CPU autocast), so a study reads what
    # training computed; the MLP's vmapped layers are what its own path computes.
    fn = folded if isinstance(base, FOLDED) else torch.vmap(one, in_dims=(0, 0, None))
    for start in range(0, len(x), batch_size):
        with precision_context(precision, x.device):
            values = fn(params, buffers, x[start : start + batch_size])
        for name, value in zip(wanted, values):
            out[name].append(value)
    result = {name: torch.cat(chunks, dim=1) for name, chunks in out.items()}
    if "input" in layers:
        inputs = x.flatten(1) if base.flattens_input else x
        result["input"] = inputs.unsqueeze(0).expand(members, *inputs.shape)
    return {name: result[name] for name in layers}
