"""Study ``network_manifold``: Abel et al., "Exploring the Manifold of Neural Networks Using
Diffusion Geometry". Each step is one function with explicit input and output paths."""

from .steps import (  # noqa: F401
    characterize_networks,
    compute_network_distances,
    compute_network_matrices,
    compute_persistence,
    embed_networks,
    extract_representations,
    suggest_hyperparameters,
    tabulate_network_manifold,
)
from .figures import plot_network_manifold  # noqa: F401
