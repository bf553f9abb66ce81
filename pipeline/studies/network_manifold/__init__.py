"""Study ``network_manifold``: Abel et al., "Exploring the Manifold of Neural Networks Using
Diffusion Geometry" (paper 003). Steps in :mod:`.steps` (analyses and tables) and
:mod:`.figures`; this module registers the study and names its outputs without importing
torch or matplotlib (Snakemake reads it each time it starts)."""

from __future__ import annotations

from typing import Mapping

from ...sweeps import sweeps_named_in
from .. import Study

NAME = "network_manifold"
# Tables in results/network_manifold/tables/ (each as .csv, .md and .html).
TABLES = ("table1", "characterization_r2", "gft_smoothness")
# The claims table (pipeline.claims; gathered into results/claims.*) and Table 1 per kind, bandwidth
# and PHATE seed, in results/network_manifold/tables/ (.csv, .md, .html).
CLAIMS_TABLES = ("claims", "table1_robustness")
# Per-sweep stores and tables in results/network_manifold/<sweep>/.
STORES = (
    "representations.zarr",
    "matrices.zarr",
    "distances.zarr",
    "characterization.zarr",
    "persistence.zarr",
    "suggested_network.zarr",
)
# Figures in results/network_manifold/<sweep>/figures/ (.png).
FIGURES = ("manifolds", "entropy_vs_accuracy", "wasserstein_heatmap", "dendrograms", "class_structure", "hidden_layers")


def path(config: Mapping, sweep: str, name: str) -> str:
    """``results/network_manifold/<sweep>/<name>`` (``sweep`` may be a wildcard such as ``{sweep}``)."""
    return f"{config['results']}/{NAME}/{sweep}/{name}"


def table_path(config: Mapping, name: str, extension: str = "csv") -> str:
    """``results/network_manifold/tables/<name>.<extension>``."""
    return f"{config['results']}/{NAME}/tables/{name}.{extension}"


def outputs(config: Mapping) -> list[str]:
    """Every table, figure, suggestion and store of the study for the configured sweeps."""
    sweeps = config[NAME]["sweeps"]
    if not sweeps:
        return []
    targets = [table_path(config, name) for name in TABLES + CLAIMS_TABLES]
    for sweep in sweeps:
        targets += [path(config, sweep, f"figures/{name}.png") for name in FIGURES]
        targets += [path(config, sweep, "suggestion.csv")]
        targets += [path(config, sweep, name) for name in STORES]
    return targets


def architectures(config: Mapping) -> dict[str, dict[str, str]]:
    """The architecture and dataset names of each configured sweep (the claims table names its rows
    by them)."""
    return {
        sweep: {"architecture": config["sweeps"][sweep]["architecture"]["name"], "dataset": config["sweeps"][sweep]["dataset"]}
        for sweep in config[NAME]["sweeps"]
    }


def check(config: Mapping) -> list[str]:
    """The sweeps named in ``network_manifold.sweeps`` exist, are classification sweeps, and hold
    enough networks to embed (PHATE) and to smooth over (the GFT's kNN bandwidth)."""
    from ...kernels.embedding import PHATE_MIN_ITEMS
    from ...zoo import sweep_size

    problems = sweeps_named_in(config, NAME, task="classification")
    if problems:
        return problems
    needed = max(PHATE_MIN_ITEMS, config[NAME]["gft_knn"] + 1)
    for index, name in enumerate(config[NAME]["sweeps"]):
        size = sweep_size(config["sweeps"][name])
        if size < needed:
            problems.append(
                f"config key '{NAME}.sweeps[{index}]': sweep {name!r} has {size} networks; its manifold needs at least "
                f"{needed} (PHATE embeds {PHATE_MIN_ITEMS} or more, and network_manifold.gft_knn + 1)"
            )
    return problems


_STEPS = f"pipeline.studies.{NAME}.steps"
def jobs(config: Mapping) -> dict[str, int]:
    """Jobs per rule of a whole run: every step once per analysed sweep, the tables once."""
    sweeps = len(config[NAME]["sweeps"])
    per_sweep = (
        "extract_representations", "compute_network_matrices", "compute_network_distances", "characterize_networks",
        "compute_persistence", "embed_networks", "plot_network_manifold", "suggest_hyperparameters",
        "train_suggested_network", "tabulate_suggestion",
    )
    once = ("tabulate_network_manifold", "tabulate_network_manifold_claims")
    return {**{rule: sweeps for rule in per_sweep}, **{rule: min(sweeps, 1) for rule in once}}


STUDY = Study(
    name=NAME,
    title="Abel et al., the manifold of networks from diffusion geometry (paper 003)",
    steps={
        **{
            step: f"{_STEPS}:{step}"
            for step in (
                "extract_representations",
                "compute_network_matrices",
                "compute_network_distances",
                "characterize_networks",
                "compute_persistence",
                "embed_networks",
                "suggest_hyperparameters",
                "train_suggested_network",
                "tabulate_suggestion",
                "tabulate_network_manifold",
                "tabulate_network_manifold_claims",
            )
        },
        "plot_network_manifold": f"pipeline.studies.{NAME}.figures:plot_network_manifold",
    },
    outputs=outputs,
    check=check,
    jobs=jobs,
)
