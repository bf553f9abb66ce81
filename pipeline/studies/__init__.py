"""The study registry: every subpackage of ``pipeline.studies`` is a study.

A study's ``__init__.py`` defines ``STUDY``, a :class:`Study`, and imports neither torch nor
matplotlib: Snakemake, the config loader and the command line read the registry each time they
start. The foundation (``pipeline.config``, ``pipeline.__main__``, ``rules/common.smk``) finds the
studies here and names none of them, so adding one touches only its own files.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Mapping


def _no_problems(config: Mapping) -> list[str]:
    return []


def _one_at_a_time(config: Mapping, sweep: str) -> int:
    return 1


def _no_jobs(config: Mapping) -> dict[str, int]:
    return {}


@dataclass(frozen=True)
class Study:
    """What the foundation needs to know of a study.

    Attributes
    ----------
    name : str
        The package name, the config block (``config/schema/<name>.yaml``) and the results folder.
    steps : mapping
        Step name -> ``"module:function"`` (imported only when the step runs). Each step is one
        Snakemake rule of the same name and one ``python -m pipeline <step>`` command.
    outputs : callable(config) -> list of str
        The study's final outputs (tables, figures, stores) for a validated config, as paths;
        they are targets of the default rule. Empty when the config does not run the study.
    check : callable(config) -> list of str
        Problems the schema cannot express (such as a sweep it names that does not exist), each
        naming its config key; empty when the config is fine.
    title : str
        One line for the docs and the report.
    networks_trained_at_once : callable(config, sweep) -> int
        How many networks the study trains in one population for each network of ``sweep``
        (1 when it trains none): a GPU's memory must hold that many per network of a population
        (``pipeline.config`` splits the sweep's populations to fit).
    jobs : callable(config) -> mapping of str to int
        How many jobs each of the study's rules makes in a whole run of a validated config (rule
        name -> count; 0 or absent: none). The workflow's dry run must agree, rule by rule
        (tests/test_workflow.py): a rule that makes more or fewer jobs than its study says fails.
    """

    name: str
    steps: Mapping[str, str]
    outputs: Callable[[Mapping], list[str]]
    check: Callable[[Mapping], list[str]] = field(default=_no_problems)
    title: str = ""
    networks_trained_at_once: Callable[[Mapping, str], int] = field(default=_one_at_a_time)
    jobs: Callable[[Mapping], Mapping[str, int]] = field(default=_no_jobs)


@functools.cache
def registered() -> dict[str, Study]:
    """Every study, by name, in alphabetical order."""
    studies = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        study = importlib.import_module(f"{__name__}.{info.name}").STUDY
        if study.name != info.name:
            raise RuntimeError(f"pipeline.studies.{info.name} registers a study named {study.name!r}")
        studies[study.name] = study
    return studies
