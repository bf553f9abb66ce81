"""The import graph of ``pipeline/`` is layered: no module imports, directly or through others,
a module that imports it back, and the sweep arithmetic and the model builder stand below the
study registry.

The graph is read from the source with :mod:`ast`: every ``import`` and ``from ... import`` of
every module, relative ones resolved, also those inside functions (which run later, but still
tie the two modules together). Two imports the source cannot show are left out on purpose:
importing ``a.b`` first runs ``a/__init__.py`` (a package above its own modules is how Python
packages are made), and the registry loads each study package by name
(``pipeline.studies.registered``), the one place the foundation reaches the studies.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"
ARCHITECTURE = REPO / "docs" / "architecture.md"
# A package whose modules are one node of the floors in docs/architecture.md (each study counts as
# one): none of them imports a module outside it that imports back into it.
GROUPS = ("pipeline.kernels", "pipeline.store", r"pipeline\.studies\.[a-z_0-9]+")


def modules() -> dict[str, tuple[Path, bool]]:
    """Every module of ``pipeline/``: dotted name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imported(node: ast.AST, module: str, is_package: bool, known) -> set[str]:
    """The modules of ``pipeline`` one import statement names."""

    def owner(name: str) -> str | None:  # the module itself, or the nearest package above it
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        return {owner(alias.name) for alias in node.names if alias.name.split(".")[0] == "pipeline"} - {None}
    if node.level:  # relative: from the module's package, one level up per dot beyond the first
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "pipeline":
        return set()
    # `from pkg import name` imports the module pkg.name where there is one, else pkg itself
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else owner(base) for alias in node.names} - {None}


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``pipeline`` it imports (anywhere in its source)."""
    known = modules()
    graph = {}
    for module, (path, is_package) in known.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= _imported(node, module, is_package, known)
        graph[module] = targets - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of its modules with the first repeated at the end, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored
    path: list[str] = []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def grouped(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with each of :data:`GROUPS` (a package and its modules) as one node ``<package>.*``."""

    def node(module):
        for pattern in GROUPS:
            match = re.match(rf"({pattern})(\.|$)", module)
            if match:
                return match.group(1) + ".*"
        return module

    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        out.setdefault(node(module), set()).update(node(t) for t in targets)
    return {module: targets - {module} for module, targets in out.items()}


def floors(graph: dict[str, set[str]]) -> list[list[str]]:
    """The layering of an acyclic graph, bottom first: a module's floor is one above the highest
    floor it imports from (0 for one that imports nothing of ``pipeline``), so every import points
    to a lower floor."""
    floor: dict[str, int] = {}

    def of(module):
        if module not in floor:
            floor[module] = 1 + max((of(t) for t in graph[module]), default=-1)
        return floor[module]

    for module in graph:
        of(module)
    return [sorted(m for m in graph if floor[m] == level) for level in range(max(floor.values()) + 1)]


def floors_text(layers: list[list[str]]) -> str:
    return "\n".join(f"{level:2d}  {', '.join(names)}" for level, names in enumerate(layers))


def documented_floors() -> str:
    """The floors block of docs/architecture.md (between its two marker comments)."""
    match = re.search(r"<!-- floors: begin.*?-->\n```\n(.*?)```\n<!-- floors: end -->", ARCHITECTURE.read_text(), re.S)
    assert match, f"{ARCHITECTURE} has no floors block (<!-- floors: begin ... --> ... <!-- floors: end -->)"
    return match.group(1).rstrip("\n")


def test_the_graph_is_read_from_every_kind_of_import():
    # one module of each kind of import the source holds, checked against what its text says
    graph = import_graph()
    assert "pipeline.studies" in graph["pipeline.studies.relu_complex"]  # from .. import Study
    assert "pipeline.store" in graph["pipeline.parallel"]  # import pipeline.store, inside a function
    assert "pipeline.train" in graph["pipeline.zoo"]  # from .train import ..., inside a function
    assert "pipeline.plan.profiles" in graph["pipeline.plan"]  # from .profiles import ..., inside a function
    assert "pipeline.sweeps" in graph["pipeline.tables"] or "pipeline.schema" in graph["pipeline.tables"]


def test_find_cycle_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert floors({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == [["c"], ["b"], ["a"]]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in pipeline/: " + " -> ".join(cycle)


def test_floors_bottom_and_top_and_in_the_docs():
    graph = import_graph()
    layers = floors(grouped(graph))
    print("\n" + floors_text(layers))
    # kernels and the store import nothing that imports anything of the pipeline's own
    assert {"pipeline.kernels.*", "pipeline.store.*"} <= set(layers[0]) | set(layers[1])
    # nothing imports a study's modules or the command line: they are at the top of their paths
    imported = set().union(*grouped(graph).values())
    tops = {m for m in grouped(graph) if m.startswith("pipeline.studies.") or m == "pipeline.__main__"}
    assert not tops & imported, f"imported by another module: {sorted(tops & imported)}"
    assert documented_floors() == floors_text(layers), (
        f"the floors in {ARCHITECTURE.relative_to(REPO)} are not the import graph's; they are now:\n{floors_text(layers)}"
    )


def _imported_modules(code: str) -> set[str]:
    """The ``pipeline`` modules loaded by running ``code`` in a fresh interpreter on this checkout."""
    script = f"{code}\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'pipeline'))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    return set(result.stdout.split())


def test_zoo_and_models_load_no_study():
    # each with a module of the foundation it must load (so that the check sees the imports run)
    for code, foundation in (
        ("import pipeline.zoo", "pipeline.sweeps"),
        ("import pipeline.models", "pipeline.models"),
        # building a model completes its spec from the schema: the foundation's, not the studies'
        ("from pipeline.models import build_model; build_model({'name': 'mlp', 'hidden': [4]}, (2,), 2)", "pipeline.schema"),
    ):
        loaded = _imported_modules(code)
        assert foundation in loaded, (code, sorted(loaded))
        studies = sorted(m for m in loaded if m == "pipeline.studies" or m.startswith("pipeline.studies."))
        assert not studies, f"{code!r} loads the study registry: {studies}"
        assert "pipeline.config" not in loaded, f"{code!r} loads pipeline.config, which stands above it"


def test_the_study_registrations_stand_below_the_config():
    # the registry loads every study package by name, which the graph does not see: run it
    loaded = _imported_modules("from pipeline.studies import registered; registered()")
    assert {"pipeline.studies.network_manifold", "pipeline.studies.relu_complex"} <= loaded, sorted(loaded)
    assert "pipeline.config" not in loaded, "a study's registration imports pipeline.config, which reads the registry"
