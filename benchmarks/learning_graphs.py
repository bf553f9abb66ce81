"""Benchmark: learning graphs at paper scale, and the branch detector's accuracy.

(a) One learning graph of a 20,000 x 784 layer cloud (100 neurons x 200 recorded steps of
    synthetic weight trajectories that branch, in the first layer's 784 dimensions), L2-norm lens:
    the pipeline's settings (DBSCAN in the cloud's first 10 principal coordinates, computed once;
    15 cubes, overlap 0.5; eps from the neurons' moves) beside KeplerMapper with the public
    notebook's settings (PCA-20 before Mapper, 30 cubes, overlap 0.99), with the same eps, side by
    side; targets: the pipeline's graph in <= 5 s on 2 cores, >= 10x faster.
(b) The branch detector (``pipeline.studies.learning_graphs.steps.item_learning_graphs``: extended
    persistence of the step on the graph, bootstrap significance) on trajectories of 20 random
    trees of known branching: the error of the branch count at the end (target <= 1) and the F1 of
    matching detected to true branchings (a detected split matches an unmatched true one within
    ``--tolerance`` snapshots; target >= 0.8).

    .venv/bin/python benchmarks/learning_graphs.py [--trees 20] [--tolerance 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pipeline.kernels import mapper
from pipeline.kernels import trajectories as synthetic
from pipeline.studies.learning_graphs import steps

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

NORM_LENS = dict(cubes=15, overlap=0.5, eps=1.0, eps_quantile=0.99, min_samples=1, space_components=10)
PCA_LENS = dict(components=3, cubes=6, overlap=0.4, eps=1.0, eps_quantile=0.99, min_samples=1, space_components=10)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def paper_scale_graph():
    cloud = synthetic.branching_trajectories([(40, 0, 2), (90, 1, 3), (120, 2, 2)], n_neurons=100, n_snapshots=200, dim=784, seed=0)
    points, step = cloud.points, cloud.step.astype(float)
    print(f"(a) one learning graph of {points.shape[0]:,} x {points.shape[1]} points (L2-norm lens), 2 cores")

    def pipeline():
        space = mapper.reduced_space(points, NORM_LENS["space_components"])
        eps = mapper.trajectory_eps(space, 200, NORM_LENS["eps_quantile"], NORM_LENS["eps"])
        graph, _ = mapper.mapper_graph(mapper.norm_lens(points), space, cubes=15, overlap=0.5, eps=eps)
        return graph, eps

    (graph, eps), t_pipeline = timed(pipeline)
    found = mapper.branching(mapper.node_values(graph, step), graph.edges)

    def notebook():
        space = mapper.reduced_space(points, 20)
        graph, _ = mapper.mapper_graph(mapper.norm_lens(points), space, cubes=30, overlap=0.99, eps=eps)
        return graph

    notebook_graph, t_notebook = timed(notebook)
    print(f"    pipeline (PCA-10 space, 15 cubes, overlap 0.5) : {t_pipeline:7.2f} s  {graph.n_nodes:5d} nodes  "
          f"{len(graph.edges):6d} edges  {found.connected_branches(2 * 1.0)} branches at the end (truth {cloud.groups_at_end})")
    notebook_found = mapper.branching(mapper.node_values(notebook_graph, step), notebook_graph.edges)
    print(f"    notebook (PCA-20 space, 30 cubes, overlap 0.99): {t_notebook:7.2f} s  {notebook_graph.n_nodes:5d} nodes  "
          f"{len(notebook_graph.edges):6d} edges  {notebook_found.connected_branches(2 * 1.0)} branches at the end")
    print(f"    ratio notebook / pipeline: {t_notebook / t_pipeline:.1f}x  (targets: pipeline <= 5 s, ratio >= 10x)")


def detector_accuracy(trees: int, tolerance: float):
    rng = np.random.default_rng(2026)
    errors, true_positives, detected, actual = [], 0, 0, 0
    print(f"(b) branch detector on {trees} random trees (20 neurons x 40 snapshots in 10-D), tolerance {tolerance:g} snapshots")
    start = time.perf_counter()
    for tree in range(trees):
        splits = synthetic.random_split_tree(rng, 40, 20, max_splits=3)
        cloud = synthetic.branching_trajectories(splits, n_neurons=20, n_snapshots=40, dim=10, seed=tree)
        result = steps.item_learning_graphs(
            cloud.points, cloud.step.astype(float), norm_lens=NORM_LENS, pca_lens=PCA_LENS, bootstrap=20, min_support=0.5,
            stability={"cubes": [15], "overlap": [0.5]}, min_branch_steps=2, seed=tree,
        )
        found = result["branching"].splits[result["significant"], 0]
        # each true split into c groups is c - 1 branchings at its step
        truth = sorted(float(s) for s, _, c in cloud.splits for _ in range(c - 1))
        unmatched = list(truth)
        for split in sorted(found):
            close = [t for t in unmatched if abs(t - split) <= tolerance]
            if close:
                unmatched.remove(min(close, key=lambda t: abs(t - split)))
                true_positives += 1
        detected += len(found)
        actual += len(truth)
        errors.append(result["connected_branches"] - cloud.groups_at_end)
        true_splits = [(int(s), int(c)) for s, _, c in cloud.splits]
        print(f"    tree {tree:2d}: true splits {true_splits}  detected {np.round(sorted(found), 1).tolist()}"
              f"  branches at end {result['connected_branches']} (truth {cloud.groups_at_end})")
    precision = true_positives / detected if detected else 0.0
    recall = true_positives / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    errors = np.abs(errors)
    print(f"    branch count error: max {errors.max()}, mean {errors.mean():.2f}, "
          f"within 1 in {np.mean(errors <= 1):.0%} of trees (target <= 1)")
    print(f"    branch matching: precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f} (target >= 0.8)"
          f"   [{time.perf_counter() - start:.1f} s]")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=3.0, help="snapshots between a detected and a true split")
    args = parser.parse_args()
    paper_scale_graph()
    detector_accuracy(args.trees, args.tolerance)


if __name__ == "__main__":
    main()
