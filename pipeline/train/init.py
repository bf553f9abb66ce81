"""A population's starting state: fresh networks from seeds, or given per-member states.

Both return ``(base, params, buffers)``: a template network on the meta device (its own weights
unused, for ``torch.func.functional_call``) and the members' tensors stacked ``[member, *shape]``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch.func import stack_module_state

from ..models import build_model
from .settings import Member


def _template(architecture: Mapping, input_shape, num_outputs: int) -> torch.nn.Module:
    return build_model(dict(architecture), tuple(input_shape), num_outputs).to("meta")


def initial_population(
    architecture: Mapping, input_shape: tuple[int, ...], num_outputs: int, members: Sequence[Member]
) -> tuple[torch.nn.Module, dict, dict]:
    """Fresh networks, each initialized with ``torch.manual_seed(member.init_seed)``.

    Members that share a seed share their initial weights.
    """
    models = {}
    for seed in sorted({m.init_seed for m in members}):
        torch.manual_seed(seed)
        models[seed] = build_model(dict(architecture), tuple(input_shape), num_outputs)
    params, buffers = stack_module_state([models[m.init_seed] for m in members])
    return _template(architecture, input_shape, num_outputs), params, buffers


def population_from_states(
    architecture: Mapping,
    input_shape: tuple[int, ...],
    num_outputs: int,
    params: Mapping[str, np.ndarray],
    buffers: Mapping[str, np.ndarray],
) -> tuple[torch.nn.Module, dict, dict]:
    """A population whose member ``i`` starts from ``params[name][i]`` and ``buffers[name][i]``.

    Every member can start elsewhere: fine-tuning (one network repeated, see
    :func:`repeat_state`) and jump-and-retrain (each member an optimum plus its own perturbation)
    are both this.

    Parameters
    ----------
    architecture, input_shape, num_outputs
        As for :func:`pipeline.models.build_model`.
    params, buffers : mapping
        Arrays ``[member, *shape]`` for every parameter and buffer of the architecture (names
        and shapes checked against it).

    Raises
    ------
    ValueError
        Naming a missing, unexpected or misshapen tensor, or members of different counts.
    """
    reference = build_model(dict(architecture), tuple(input_shape), num_outputs)
    expected = {**dict(reference.named_parameters()), **dict(reference.named_buffers())}
    given = {**params, **buffers}
    if set(given) != set(expected):
        missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        raise ValueError(f"per-member states do not fit the architecture: missing {missing}, unexpected {extra}")
    counts = {len(np.asarray(v)) for v in given.values()}
    if len(counts) != 1:
        raise ValueError(f"per-member states hold different numbers of members: {sorted(counts)}")
    stacked = {}
    for name, value in given.items():
        tensor = torch.as_tensor(np.asarray(value)).to(expected[name].dtype)
        if tuple(tensor.shape[1:]) != tuple(expected[name].shape):
            raise ValueError(f"state {name!r} has shape {tuple(tensor.shape[1:])} per member, expected {tuple(expected[name].shape)}")
        stacked[name] = tensor.contiguous()
    return (
        _template(architecture, input_shape, num_outputs),
        {k: stacked[k] for k in params},
        {k: stacked[k] for k in buffers},
    )


def repeat_state(state: Mapping[str, np.ndarray], members: int) -> dict[str, np.ndarray]:
    """One network's arrays ``{name: [*shape]}`` repeated for ``members`` members ``[member, *shape]``."""
    return {k: np.repeat(np.asarray(v)[None], members, axis=0) for k, v in state.items()}
