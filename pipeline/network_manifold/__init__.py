"""Study ``network_manifold``: Abel et al., "Exploring the Manifold of Neural Networks Using
Diffusion Geometry". Each step is one function with explicit input and output paths, in
``steps`` (analyses and tables) and ``figures``.

This module only names the study's outputs: the workflow lists them when it builds its DAG, and
must not pay for importing torch and matplotlib each time Snakemake starts.
"""

# Tables in results/network_manifold/tables/ (each as .csv, .md and .html).
TABLES = ("table1", "characterization_r2", "gft_smoothness")
# The per-sweep analysis stores, in results/network_manifold/<sweep>/.
STORES = ("representations.zarr", "matrices.zarr", "distances.zarr", "characterization.zarr", "persistence.zarr")
# Figures in results/network_manifold/<sweep>/figures/ (.png).
FIGURES = ("manifolds", "entropy_vs_accuracy", "wasserstein_heatmap", "dendrograms", "class_structure", "hidden_layers")
