"""Stage 5, Fig. 1's data (step ``compare_embeddings``): PHATE beside t-SNE, UMAP and PCA, on one
optimum's jump-and-retrain samples (cosine) and on an artificial tree (``phate.tree.gen_dla``)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .... import store
from ....kernels import distances as distance_kernels
from ....kernels.embedding import pca_of_gram, tsne_and_umap


def compare_embeddings(
    landscapes: Sequence[str],
    embedding_comparison: str,
    *,
    example: str | None,
    tree: Mapping,
    phate_knn: int,
    phate_seed: int,
) -> pd.DataFrame:
    """Fig. 1: PHATE, t-SNE, UMAP and PCA of one optimum's jump-and-retrain samples (cosine) and of
    an artificial tree (phate.tree.gen_dla). One row per (data set, method, point)."""
    import phate

    for path in landscapes:
        names = store.open_array_store(path).attrs["optima"]
        if example is None or example in names:
            o = 0 if example is None else names.index(example)
            break
    else:
        raise ValueError(f"loss_landscape.example {example!r} is in none of the landscape stores")
    gram = store.read_array(path, "jump_retrain/gram")[o]
    cosine = distance_kernels.cosine_distances_from_gram(gram)
    seeds = store.read_array(path, "jump_retrain/seed")
    epochs = store.read_array(path, "jump_retrain/epoch")
    frames = []

    def add(dataset, method, coords, group, order):
        frames.append(pd.DataFrame({"dataset": dataset, "method": method, "point": np.arange(len(coords)),
                                    "x": coords[:, 0], "y": coords[:, 1], "group": group, "order": order}))

    jr = {
        "PHATE": store.read_array(path, "jump_retrain/embedding")[o],
        **tsne_and_umap(distances=cosine, seed=phate_seed),
        "PCA": pca_of_gram(gram),
    }
    for method, coords in jr.items():
        add(f"jump_retrain ({names[o]})", method, coords, seeds, epochs)
    points, branches = phate.tree.gen_dla(
        n_dim=tree["n_dim"], n_branch=tree["n_branch"], branch_length=tree["branch_length"], seed=tree["seed"]
    )
    tree_methods = {
        "PHATE": phate.PHATE(knn=phate_knn, random_state=phate_seed, verbose=0).fit_transform(points),
        **tsne_and_umap(points=points, seed=phate_seed),
        "PCA": pca_of_gram(points @ points.T),
    }
    order = np.arange(len(points)) % tree["branch_length"]
    for method, coords in tree_methods.items():
        add("tree", method, np.asarray(coords), branches, order)
    table = pd.concat(frames, ignore_index=True)
    store.write_table(table, embedding_comparison)
    return table
