"""Command line used by the Snakemake rules: ``python -m pipeline STEP --args JSON``.

Every rule runs one step function in a fresh process (so that parallel jobs get their own
threads and memory) with its keyword arguments passed as JSON objects, quoted once by Snakemake:
the paths (``--args``) apart from the settings that decide the result (``--settings``). Snakemake
records a rule's params only when they do not depend on its input or output, so the settings
must come in a param of their own for a changed setting to re-run the rule.

Only the steps listed in ``STEPS`` can be called.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import inspect
import json
import logging
import signal
import sys

STEPS = {
    "train_population": "pipeline.zoo:train_population_job",
    "collect_sweep_metrics": "pipeline.zoo:collect_sweep_metrics",
    **{
        step: f"pipeline.network_manifold.steps:{step}"
        for step in (
            "extract_representations",
            "compute_network_matrices",
            "compute_network_distances",
            "characterize_networks",
            "compute_persistence",
            "embed_networks",
            "suggest_hyperparameters",
            "tabulate_network_manifold",
        )
    },
    "plot_network_manifold": "pipeline.network_manifold.figures:plot_network_manifold",
}


def resolve(step: str):
    """The function behind a step name."""
    if step not in STEPS:
        raise SystemExit(f"unknown step {step!r}; known steps: {', '.join(sorted(STEPS))}")
    module, name = STEPS[step].split(":")
    return getattr(importlib.import_module(module), name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("step", help="step to run: " + ", ".join(sorted(STEPS)))
    parser.add_argument("--args", default="{}", help="keyword arguments as a JSON object")
    parser.add_argument(
        "--settings",
        default="{}",
        help="more keyword arguments as a JSON object: the settings that decide what the step "
        "computes (rules pass them apart from the paths so that Snakemake records them)",
    )
    parser.add_argument("--args-file", help="read the keyword arguments from this JSON file instead")
    parser.add_argument(
        "--runtime",
        default="{}",
        help="JSON object of where/how settings (data_root, download, device); each is passed "
        "only to a step that takes it",
    )
    parser.add_argument("--threads", type=int, help="threads the step may use, for a step that takes them")
    options = parser.parse_args(argv)
    # A step stopped from outside (Snakemake, SLURM's time limit, a test's timeout) first writes
    # every thread's stack into its log, so that a hang can be told apart from slow work.
    faulthandler.register(signal.SIGTERM, chain=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if options.args_file:
        with open(options.args_file) as handle:
            kwargs = json.load(handle)
    else:
        kwargs = json.loads(options.args)
    settings = json.loads(options.settings)
    if clash := sorted(set(kwargs) & set(settings)):
        raise SystemExit(f"keyword arguments given both in --args and --settings: {', '.join(clash)}")
    kwargs.update(settings)
    function = resolve(options.step)
    accepted = inspect.signature(function).parameters
    runtime = json.loads(options.runtime)
    if options.threads is not None:
        runtime["threads"] = options.threads
    kwargs.update({k: v for k, v in runtime.items() if k in accepted})
    function(**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
