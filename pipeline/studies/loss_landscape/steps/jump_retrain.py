"""Stage 1, jump and retrain (step ``sample_jump_retrain``): from every optimum of a population
store, for every seed and step size, the optimum plus ``step x`` a filter-normalized Gaussian
direction, retrained for N epochs with the optimum's own optimizer, all retrainings of the store's
optima as one vectorized population; parameters and the train and test loss and accuracy of the
whole sets, in eval mode, recorded at the jump and after every epoch (BatchNorm running
statistics are retrained with the weights and recorded with them)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .... import store, zoo
from ....kernels import directions as directions_kernel


def final_lr_factor(training: Mapping) -> float:
    """The learning rate's factor at the end of training (after every milestone of its schedule)."""
    return float(training["schedule"]["gamma"] ** len(training["schedule"]["milestones"]))


def jump_retrain_spec(spec: Mapping, seeds: Sequence[int], step_sizes: Sequence[float], retrain: Mapping) -> dict:
    """The population spec of the retrainings of one population store's optima.

    One member per (optimum, seed, step size), in that order, with the retraining's
    hyperparameters (``retrain``: a null value means the optimum's own; the learning rate's own
    value is the optimum's final one) and the optimum's initialization seed and label noise, so
    that it retrains on the labels it was trained on. The optimum's store is named by its spec
    hash: a partial run of other optima is never resumed.
    """
    factor = final_lr_factor(spec["training"])
    members = []
    for index, optimum in enumerate(spec["members"]):
        for seed in seeds:
            for step in step_sizes:
                members.append({
                    "member": len(members),
                    "network": f"{optimum['network']}_seed~{seed}_step~{step}",
                    "optimum": index,
                    "optimum_network": optimum["network"],
                    "seed": int(seed),
                    "step_size": float(step),
                    "lr": retrain["lr"] if retrain["lr"] is not None else optimum["lr"] * factor,
                    "momentum": retrain["momentum"] if retrain["momentum"] is not None else optimum["momentum"],
                    "weight_decay": retrain["weight_decay"] if retrain["weight_decay"] is not None else optimum["weight_decay"],
                    "init_seed": optimum["init_seed"],
                    "label_noise": optimum["label_noise"],
                })
    training = {
        **spec["training"],
        "epochs": retrain["epochs"],
        "schedule": {"milestones": [], "gamma": spec["training"]["schedule"]["gamma"]},
        "snapshot_every": "epoch",
        "snapshot_metrics": True,
        "snapshot_dtype": retrain.get("snapshot_dtype") or spec["training"]["snapshot_dtype"],
    }
    return {
        "sweep": spec["sweep"],
        "population": spec["population"],
        "purpose": "jump_retrain",
        "optima_spec_hash": store.spec_hash(spec),
        "dataset": spec["dataset"],
        "dataset_options": spec["dataset_options"],
        "architecture": spec["architecture"],
        "training": training,
        "init_from": None,
        "members": members,
    }


def jump_states(optima: Mapping[str, np.ndarray], members: Sequence[Mapping]) -> dict[str, np.ndarray]:
    """Every member's starting parameters ``[member, *shape]``: its optimum plus its step size times
    the filter-normalized direction of its seed (a kernel of :mod:`pipeline.kernels.directions`)."""
    out = {name: np.empty((len(members), *value.shape[1:]), dtype=np.float32) for name, value in optima.items()}
    directions = {}
    for i, member in enumerate(members):
        key = (member["optimum"], member["seed"])
        weights = {name: value[member["optimum"]] for name, value in optima.items()}
        if key not in directions:
            shapes = {name: value.shape for name, value in weights.items()}
            directions[key] = directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, member["seed"]), weights)
        for name, value in weights.items():
            out[name][i] = value + member["step_size"] * directions[key][name]
    return out


def sample_jump_retrain(
    population_store: str,
    jump_retrain: str,
    *,
    seeds: Sequence[int],
    step_sizes: Sequence[float],
    retrain: Mapping,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
) -> Path:
    """Jump from every optimum of a population store and retrain, all as one population."""
    from ....train import population_from_states

    spec = store.open_population(population_store).attrs["spec"]
    params, buffers = store.read_final_params(population_store)
    jr_spec = jump_retrain_spec(spec, seeds, step_sizes, retrain)
    members = jr_spec["members"]
    data = zoo.load_spec_dataset(spec, data_root)
    start = population_from_states(
        spec["architecture"], data.input_shape, data.num_outputs,
        jump_states(params, members), {name: value[[m["optimum"] for m in members]] for name, value in buffers.items()},
    )
    return zoo.run_population(jr_spec, jump_retrain, data, start, device=device, threads=threads)
