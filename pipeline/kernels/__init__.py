"""Pure kernels on arrays: no file I/O, no Snakemake, parameters checked on entry.

One module per subject:

- ``distances``: Euclidean distance matrices, Gram-form Frobenius distances between many
  flattened matrices, the Table-1 metric (normalized top-N distance);
- ``diffusion``: Gaussian kernels, diffusion operators, diffusion spectral entropy and mutual
  information;
- ``graphs``: kNN adjacency, adaptive Gaussian affinities, graph-signal smoothness;
- ``persistence``: Vietoris-Rips diagrams, Wasserstein distances, total persistence, landscapes;
- ``embedding``: PHATE of a precomputed distance matrix;
- ``clustering``: class structure of a representation, Ward linkage and its flat clusters;
- ``directions``: filter-normalized directions, grids and basis Grams around an optimum;
- ``activations``: normalizations of a layer's activations, the local-homology distances;
- ``landscapes``: persistence landscapes on a grid, their norms and inner products, and the
  permutation test between two groups of landscapes.

Study steps open stores, map these kernels over items (with Dask where the items are many) and
write the results; nothing here knows about stores or studies.
"""
