"""Command line used by the Snakemake rules: ``python -m pipeline STEP --args JSON --settings JSON``.

Every rule runs one step function in a fresh process (so that parallel jobs get their own
threads and memory), named like the rule, with its keyword arguments passed as JSON objects,
quoted once by Snakemake: the paths (``--args``, the rule's named inputs and outputs) apart from
the settings that decide the result (``--settings``). Snakemake records a rule's params only when
they do not depend on its input or output, so the settings come in a param of their own for a
changed setting to re-run the rule.

Settings that say where or how a step runs (data location, device, Dask cluster) come from
``--runtime`` or, by default, the ``PIPELINE_RUNTIME`` environment variable that the workflow
sets; each reaches only a step that takes it, and changing them re-runs nothing.

The steps are the foundation's (:data:`FOUNDATION_STEPS`) and every registered study's
(:mod:`pipeline.studies`).
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import inspect
import json
import logging
import os
import signal
import sys

FOUNDATION_STEPS = {
    "prepare_datasets": "pipeline.data:prepare_dataset",
    "train_population": "pipeline.zoo:train_population_job",
    "collect_sweep_metrics": "pipeline.zoo:collect_sweep_metrics",
    "gather_claims": "pipeline.claims:gather_claims",
}
RUNTIME_VARIABLE = "PIPELINE_RUNTIME"


def steps() -> dict[str, str]:
    """Every step name and the ``module:function`` behind it."""
    from .studies import registered

    table = dict(FOUNDATION_STEPS)
    for study in registered().values():
        clash = sorted(set(table) & set(study.steps))
        if clash:
            raise RuntimeError(f"study {study.name!r} defines steps that exist already: {clash}")
        table.update(study.steps)
    return table


def resolve(step: str):
    """The function behind a step name."""
    table = steps()
    if step not in table:
        raise SystemExit(f"unknown step {step!r}; known steps: {', '.join(sorted(table))}")
    module, name = table[step].split(":")
    return getattr(importlib.import_module(module), name)


def call(function, kwargs: dict, runtime: dict):
    """Call a step with its keyword arguments, adding only the runtime settings it names (a step
    that takes ``**named_outputs`` still gets no runtime setting it does not name)."""
    parameters = inspect.signature(function).parameters
    extra = {k: v for k, v in runtime.items() if k in parameters and k not in kwargs}
    return function(**kwargs, **extra)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plan"]:
        # not a step: the bill of a config (pipeline.plan.report)
        from .plan.report import main as plan

        return plan(argv[1:])
    if argv[:1] == ["finished"]:
        # not a step: the study targets whose outputs all exist (make report reports those)
        from .run_summary import main as finished

        return finished(argv[1:])
    if argv[:1] == ["check-config"]:
        # not a step: the config files' errors in one line, before Snakemake reads them
        from .config import main as check_config

        return check_config(argv[1:])
    if argv[:1] == ["recover"]:
        # not a step: ready the working directory after a killed run (pipeline.recovery)
        from .recovery import main as recover

        return recover(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("step", help="the step to run (the rule's name)")
    parser.add_argument("--args", default="{}", help="keyword arguments as a JSON object (the paths)")
    parser.add_argument(
        "--settings",
        default="{}",
        help="more keyword arguments as a JSON object: the settings that decide what the step "
        "computes (rules pass them apart from the paths so that Snakemake records them)",
    )
    parser.add_argument("--args-file", help="read the keyword arguments from this JSON file instead")
    parser.add_argument(
        "--runtime",
        default=None,
        help=f"JSON object of where/how settings (data_root, download_datasets, device, dask_cluster); each is "
        f"passed only to a step that takes it (default: the {RUNTIME_VARIABLE} environment variable)",
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
    runtime = json.loads(options.runtime if options.runtime is not None else os.environ.get(RUNTIME_VARIABLE, "{}"))
    if options.threads is not None:
        runtime["threads"] = options.threads
    call(resolve(options.step), kwargs, runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
