"""Pure kernels on arrays: no file I/O, no Snakemake, parameters checked on entry.

One module per subject:

- ``distances``: Euclidean distance matrices, Gram-form Frobenius distances between many
  flattened matrices, the Table-1 metric (normalized top-N distance);
- ``diffusion``: Gaussian kernels, diffusion operators, diffusion spectral entropy and mutual
  information;
- ``graphs``: kNN adjacency, adaptive Gaussian affinities, graph-signal smoothness;
- ``persistence``: Vietoris-Rips diagrams, Wasserstein distances, total persistence, landscapes,
  sublevel persistence of a function on a graph (a sampled loss landscape's topology);
- ``embedding``: PHATE of a precomputed distance matrix, kernel PCA of a Gram matrix, t-SNE and
  UMAP;
- ``classification``: cross-validated accuracy of Table 1's untuned classifiers, its folds and
  summary, nearest-neighbour agreement;
- ``clustering``: class structure of a representation, Ward linkage and its flat clusters;
- ``directions``: filter-normalized directions, grids and basis Grams around an optimum;
- ``activations``: normalizations of a layer's activations, the local-homology distances;
- ``landscapes``: persistence landscapes on a grid, their norms and inner products, and the
  permutation test between two groups of landscapes;
- ``series``: events in a network's series over training: loss spikes, grokking, how another
  series moves at the spikes.

Study steps open stores, map these kernels over items (with Dask where the items are many) and
write the results; nothing here knows about stores or studies.
"""
