"""Steps of the loss-landscape study (Horoi et al., paper 002), one module per stage. Each step
opens its inputs, maps a kernel over the optima of one population store (or over every optimum),
and writes its outputs.

Path arguments are the named inputs and outputs of the Snakemake rule of the same name; the
keyword-only settings are keys of ``config/schema/loss_landscape.yaml`` (defaults there).

An optimum is one network of an optimum sweep (its final parameters and BatchNorm statistics).
The stages, in the order the workflow runs them:

1. :mod:`.jump_retrain` (``sample_jump_retrain``): jump from every optimum along random
   filter-normalized directions and retrain, all as one population;
2. :mod:`.probes` (``sample_probes``): the grid and naive samplings, evaluated as populations;
3. :mod:`.embed` (``embed_landscape``): cosine PHATE of every sampling and the loss-level
   topology of the jump-and-retrain samples;
4. :mod:`.tables` (``tabulate_loss_landscape``, ``tabulate_loss_landscape_claims``): the optima
   table, Table 1 under both protocols, siblings, total persistence by weight decay, the claims;
5. :mod:`.embedding_methods` (``compare_embeddings``): Fig. 1's PHATE, t-SNE, UMAP and PCA.

The study registry names each step by its stage module; the names below are re-exported so that
``steps.<name>`` keeps working for the benchmarks, the tests and the docs' snippets. The pure
analysis lives in :mod:`pipeline.kernels` (``classification``, ``persistence.landscape_topology``,
``graphs.knn_edges``, ``embedding.pca_of_gram``); its old names here are kept too.
"""

from ....kernels.classification import (
    classifier_set,
    cross_validated_accuracy,
    fold_splits,
    nearest_neighbour_siblings,
    quantile_classes,
)
from ....kernels.embedding import pca_of_gram
from ....kernels.persistence import landscape_topology
from .embed import embed_landscape, sampling_coefficients, trajectory_samples
from .embedding_methods import compare_embeddings
from .jump_retrain import final_lr_factor, jump_retrain_spec, jump_states, sample_jump_retrain
from .probes import METRICS, images_per_pass, probe_coordinates, sample_probes
from .tables import (
    FEATURE_SETS,
    PROTOCOL_FEATURE_SETS,
    TASKS,
    sibling_groups,
    tabulate_loss_landscape,
    tabulate_loss_landscape_claims,
)

__all__ = [
    # steps
    "sample_jump_retrain", "sample_probes", "embed_landscape", "compare_embeddings", "tabulate_loss_landscape",
    "tabulate_loss_landscape_claims",
    # stage helpers
    "final_lr_factor", "jump_retrain_spec", "jump_states", "METRICS", "images_per_pass", "probe_coordinates",
    "sampling_coefficients", "trajectory_samples", "FEATURE_SETS", "PROTOCOL_FEATURE_SETS", "TASKS", "sibling_groups",
    # kernels, by their old names here
    "classifier_set", "cross_validated_accuracy", "fold_splits", "nearest_neighbour_siblings", "quantile_classes",
    "pca_of_gram", "landscape_topology",
]
