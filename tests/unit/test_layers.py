"""Arrows point down (STYLE.md), checked: a package imports only packages of lower layers, never
one above it nor an independent one of its own layer, and packages import each other in no
cycle. Every import counts, a lazy one inside a function or under TYPE_CHECKING too (the
source is walked whole, not only the module top).

The layers, lowest first (the packages of one layer are independent of each other):

    kato.contract                                   the wire contract, stdlib only
    kato.processor | kato.web | kato.webhook_signing
    kato.services | kato.client
    container_manager                               the runtime seam to the engine
    container_manager.build                         the processor image, on the seam
    container_manager.deploy                        the manager's Swarm stack, on both
    session_manager
    cli

A package's subpackages are part of it (`session_manager.dashboard` is `session_manager`),
except where a subpackage is named as a layer of its own (`container_manager.build`). A new
top-level package or kato module fails the check until it is given a layer here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Collection, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kato", "container_manager", "session_manager", "cli")

LAYERS: list[set[str]] = [
    {"kato", "kato.contract"},
    {"kato.processor", "kato.web", "kato.webhook_signing"},
    {"kato.services", "kato.client", "kato.testing"},
    {"container_manager"},
    {"container_manager.build"},
    {"container_manager.deploy"},
    {"session_manager"},
    {"cli"},
]

#: Packages whose modules are layered one by one: the package module itself is lowest.
NAMESPACES = {"kato"}

Graph = Mapping[str, Collection[str]]


def our_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(module: str, source: str, *, is_package: bool, known: Collection[str]) -> set[str]:
    """The modules of `known` that `source` (the module `module`) imports anywhere in it."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: package.count(".") + 2 - node.level]
                base = ".".join([*anchor, *filter(None, [node.module])])
            names.update(
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            )
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found - {module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = our_modules(root)
    return {
        name: imports_of(
            name, path.read_text(), is_package=path.name == "__init__.py", known=modules
        )
        for name, path in modules.items()
    }


def _layer_of(module: str, layers: list[set[str]]) -> tuple[int, str] | None:
    """(layer index, unit) of the most specific unit that holds `module`."""
    units = [
        (index, unit)
        for index, layer in enumerate(layers)
        for unit in layer
        if module == unit or (module.startswith(unit + ".") and unit not in NAMESPACES)
    ]
    return max(units, key=lambda found: len(found[1])) if units else None


def layer_violations(graph: Graph, layers: list[set[str]] = LAYERS) -> list[str]:
    """One line per import that points up or sideways, and per module in no layer."""
    found = []
    for module, targets in sorted(graph.items()):
        here = _layer_of(module, layers)
        if here is None:
            found.append(f"{module} is in no layer (give it one in LAYERS)")
            continue
        for target in sorted(targets):
            there = _layer_of(target, layers)
            if there is None or there[1] == here[1] or there[0] < here[0]:
                continue
            how = "a higher layer" if there[0] > here[0] else "an independent one of its layer"
            found.append(f"{module} imports {target}: {there[1]} is {how} than {here[1]}")
    return found


def package_cycles(graph: Graph, packages: Collection[str]) -> list[set[str]]:
    """The sets of packages that import each other in a cycle. A package and its own
    subpackages do not count as a cycle (a subpackage uses its parent's modules, which
    expose it); two siblings, or a package and another's subpackage, do."""

    def package_of(module: str) -> str:
        return module if module in packages else module.rpartition(".")[0]

    def related(a: str, b: str) -> bool:
        return a == b or a.startswith(b + ".") or b.startswith(a + ".")

    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if not related(package_of(module), package_of(target)):
                edges[package_of(module)].add(package_of(target))
    reach: dict[str, set[str]] = {}
    for start in list(edges):
        seen, todo = set(), [start]
        while todo:
            for step in edges.get(todo.pop(), ()):
                if step not in seen:
                    seen.add(step)
                    todo.append(step)
        reach[start] = seen
    cycles = {frozenset({a, *(b for b in reach[a] if a in reach.get(b, ()))}) for a in reach}
    return sorted((set(c) for c in cycles if len(c) > 1), key=sorted)


# -- the rule holds ---------------------------------------------------------------------------
def test_every_import_points_down() -> None:
    assert layer_violations(import_graph()) == []


def test_no_packages_import_each_other_in_a_cycle() -> None:
    modules = our_modules()
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    assert package_cycles(import_graph(), packages) == []


def test_the_graph_is_the_real_one() -> None:
    """The check reads what it should: known edges of the tree are in the graph, lazy ones too."""
    graph = import_graph()
    assert "container_manager" in graph["session_manager.app"]
    assert "container_manager.build.image" in graph["cli.main"]  # imported inside `build`
    assert "kato.contract" in graph["kato.processor.genes"]  # `from kato import contract`
    assert "container_manager._docker" in graph["container_manager.swarm_backend"]  # relative


# -- the check can fail -----------------------------------------------------------------------
def test_an_import_up_a_layer_fails() -> None:
    graph = {"kato.processor.state": {"session_manager.app"}, "session_manager.app": set()}
    assert layer_violations(graph) == [
        "kato.processor.state imports session_manager.app: session_manager is a higher layer "
        "than kato.processor"
    ]


def test_an_import_across_independent_packages_of_a_layer_fails() -> None:
    graph = {"kato.web.wait": {"kato.processor.genes"}, "kato.services.app": {"kato.web"}}
    assert layer_violations(graph) == [
        "kato.web.wait imports kato.processor.genes: kato.processor is an independent one of "
        "its layer than kato.web"
    ]


def test_the_runtime_seam_importing_its_build_fails() -> None:
    graph = {
        "container_manager.manager": {"container_manager.build.image"},
        "container_manager.build.image": {"container_manager.settings"},  # allowed: down
        "container_manager.deploy.stack": {"container_manager.build.image"},  # allowed: down
    }
    assert layer_violations(graph) == [
        "container_manager.manager imports container_manager.build.image: "
        "container_manager.build is a higher layer than container_manager"
    ]


def test_a_module_outside_every_layer_fails() -> None:
    assert layer_violations({"kato.newthing": set()}) == [
        "kato.newthing is in no layer (give it one in LAYERS)"
    ]


def test_a_lazy_import_counts() -> None:
    source = "def later():\n    from .build import image\n    import cli.main as m\n"
    known = {"container_manager.build", "container_manager.build.image", "cli", "cli.main"}
    found = imports_of("container_manager.manager", source, is_package=False, known=known)
    assert found == {"container_manager.build.image", "cli.main"}
    assert layer_violations({"container_manager.manager": found}) != []


def test_a_package_cycle_fails() -> None:
    graph = {
        "session_manager.api.routes": {"session_manager.store.registry"},
        "session_manager.store.registry": {"session_manager.api.errors"},
        "session_manager.dashboard.sampler": {"session_manager.settings"},  # its parent: fine
        "session_manager.app": {"session_manager.dashboard"},
    }
    packages = {
        "session_manager",
        "session_manager.api",
        "session_manager.store",
        "session_manager.dashboard",
    }
    assert package_cycles(graph, packages) == [{"session_manager.api", "session_manager.store"}]
    assert layer_violations(graph) == []  # one layer: only the cycle check sees it
