"""The package's layering, read from the source with ``ast``: what may import what.

Every import counts, wherever it is written (inside functions, under ``TYPE_CHECKING``, relative or
absolute, ``importlib.import_module`` of a literal): a lazy import is still a dependency, and the next
refactor may hoist it. Data flows down ``LAYERS``; only ``store/`` touches Whoosh; nothing below the web
app and the CLI imports them; no cycles; no module one has to scroll through for long.

Each rule is a function from the import graph to its offenders, run on the package and, to show it can
fail, on a small graph that breaks it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path

import searchsvc

PACKAGE = "searchsvc"
ROOT = Path(searchsvc.__file__).resolve().parent
MAX_LINES = 400

# Data flows downwards through this list: a module may import its own layer and earlier ones, never a later one.
LAYERS: list[list[str]] = [
    ["arrays", "config", "errors", "gunicorn_conf", "sample"],
    ["articles"],
    ["analysis"],
    ["ingest", "model", "snippets"],
    ["store"],
    ["query"],
    ["search"],
    ["evaluation", "evaluation_related"],
    ["web", "cli"],
]
FRONT_ENDS = ("web", "cli")  # nothing else imports them
WHOOSH_HOME = "store"

Graph = Mapping[str, Mapping[str, int]]  # module → {searchsvc module it imports: first line that does}

# -- reading the source ------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _absolute(module: str, package: bool, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def names_in(tree: ast.Module, module: str, package: bool, ours: set[str]) -> Iterator[tuple[str, int]]:
    """Every module name imported anywhere in ``tree`` (the source of ``module``), with its line.

    ``from x import y`` gives ``x.y`` when that is one of ``ours``, else ``x``; ``importlib.import_module``
    and ``__import__`` of a literal name count too.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, package, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in ours else base), node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value, node.lineno


@cache
def _imports(module: str) -> tuple[tuple[str, int], ...]:
    path = _modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return tuple(names_in(tree, module, path.name == "__init__.py", set(_modules())))


@cache
def package_graph() -> dict[str, dict[str, int]]:
    ours = _modules()
    out: dict[str, dict[str, int]] = {}
    for module in ours:
        edges: dict[str, int] = {}
        for name, line in _imports(module):
            # A name that is not a module of ours (``searchsvc.nothing``, a typo) resolves to the closest
            # one that is, so it cannot hide an edge.
            while name and name not in ours:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.setdefault(name, line)
        out[module] = edges
    return out


def _top(module: str) -> str:
    """The first component under the package: ``store`` for ``searchsvc.store.w3``, ``cli`` for ``searchsvc.cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else ""


def _where(module: str, line: int) -> str:
    path = _modules().get(module)
    return f"{path.relative_to(ROOT.parent)}:{line}" if path else f"{module}:{line}"


# -- the rules: each gives its offenders, one line naming the modules each -----------------------------


def whoosh_outside_store(imports: Mapping[str, Sequence[tuple[str, int]]]) -> list[str]:
    return [f"{module} imports {name} ({_where(module, line)})"
            for module, names in imports.items() if _top(module) != WHOOSH_HOME
            for name, line in names if name == "whoosh" or name.startswith("whoosh.")]


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def front_ends_imported(graph: Graph) -> list[str]:
    return [f"{module} imports {target} ({_where(module, line)})"
            for module, edges in sorted(graph.items()) if _top(module) not in FRONT_ENDS
            for target, line in sorted(edges.items()) if _top(target) in FRONT_ENDS]


def _layer_of(layers: list[list[str]]) -> dict[str, int]:
    return {name: i for i, names in enumerate(layers) for name in names}


def unplaced(graph: Graph, layers: list[list[str]]) -> list[str]:
    """Modules in no layer (the package root aside), and names in two."""
    layer = _layer_of(layers)
    twice = [f"{name} is in two layers" for name in layer if sum(name in names for names in layers) > 1]
    return twice + [f"{module} is in no layer" for module in sorted(graph) if _top(module) not in layer
                    and module != PACKAGE]


def against_the_flow(graph: Graph, layers: list[list[str]]) -> list[str]:
    layer = _layer_of(layers)
    return [f"{module} (layer {layer[_top(module)]}, {_top(module)}) imports {target} "
            f"(layer {layer[_top(target)]}, {_top(target)}) at {_where(module, line)}"
            for module, edges in sorted(graph.items()) if _top(module) in layer
            for target, line in sorted(edges.items())
            if _top(target) in layer and layer[_top(target)] > layer[_top(module)]]


def too_long(sizes: Mapping[str, int]) -> list[str]:
    return [f"{module}: {n} lines" for module, n in sorted(sizes.items()) if n > MAX_LINES]


# -- the package ---------------------------------------------------------------------------------------


def test_the_graph_sees_the_package_and_its_known_edges() -> None:
    g = package_graph()
    assert len(g) > 40
    assert {"searchsvc.store.snapshot", "searchsvc.search.engine", "searchsvc.web.app", "searchsvc.cli"} <= set(g)
    assert "searchsvc.store.snapshot" in g["searchsvc.search.engine"]
    assert "searchsvc.search.related" in g["searchsvc.search.engine"]  # from searchsvc.search import related
    assert "searchsvc.analysis.segment" in g["searchsvc.analysis"]  # imported inside a function
    assert "searchsvc.web.app" in g["searchsvc.cli"]  # imported inside a function
    assert any(name.startswith("whoosh") for name, _ in _imports("searchsvc.store.snapshot"))


def test_only_the_store_imports_whoosh() -> None:
    offenders = whoosh_outside_store({m: _imports(m) for m in _modules()})
    assert not offenders, "only searchsvc/store/ may import whoosh:\n" + "\n".join(offenders)


def test_no_import_cycles() -> None:
    g = package_graph()
    cycle = find_cycle(g)
    assert cycle is None, "import cycle among searchsvc modules:\n" + "\n".join(
        f"{a} imports {b} ({_where(a, g[a][b])})" for a, b in zip(cycle, cycle[1:]))


def test_nothing_below_the_front_ends_imports_them() -> None:
    offenders = front_ends_imported(package_graph())
    assert not offenders, "only searchsvc/web/ and searchsvc/cli.py may import the web app or the CLI:\n" + \
        "\n".join(offenders)


def test_every_module_has_one_layer_and_the_package_root_imports_nothing() -> None:
    g = package_graph()
    problems = unplaced(g, LAYERS)
    assert not problems, f"fix LAYERS in {__name__}:\n" + "\n".join(problems)
    gone = sorted(set(_layer_of(LAYERS)) - {_top(m) for m in g})
    assert not gone, f"LAYERS names what the package no longer has: {gone}"
    # searchsvc/__init__.py runs on every import of a submodule: it must pull in nothing.
    assert not g[PACKAGE], f"searchsvc/__init__.py imports {sorted(g[PACKAGE])}"


def test_no_module_imports_a_later_layer() -> None:
    offenders = against_the_flow(package_graph(), LAYERS)
    assert not offenders, "imports against the data flow (LAYERS):\n" + "\n".join(offenders)


def test_no_module_is_over_the_line_limit() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _modules().items()}
    offenders = too_long(sizes)
    assert not offenders, f"modules over {MAX_LINES} lines (split them by the question each part answers):\n" + \
        "\n".join(offenders)


# -- the rules can fail --------------------------------------------------------------------------------

_SOURCE = (
    "import os\n"
    "from typing import TYPE_CHECKING\n"
    "import whoosh.index\n"
    "if TYPE_CHECKING:\n"
    "    from searchsvc.web import app\n"
    "def f():\n"
    "    from .normalize import fold\n"
    "    from . import tones\n"
    "    from .. import errors, nothing\n"
    "    import importlib\n"
    "    return importlib.import_module('searchsvc.cli')\n"
)


def test_the_reader_finds_every_form_of_import() -> None:
    ours = set(_modules())
    # Read as the analysis package's __init__ and as a module beside it: relative imports resolve alike.
    for module, package in (("searchsvc.analysis", True), ("searchsvc.analysis.x", False)):
        found = list(names_in(ast.parse(_SOURCE), module, package, ours))
        assert sorted(found) == sorted([
            ("os", 1), ("typing", 2), ("whoosh.index", 3), ("searchsvc.web.app", 5),
            ("searchsvc.analysis.normalize", 7), ("searchsvc.analysis.tones", 8), ("searchsvc.errors", 9),
            ("searchsvc", 9), ("importlib", 10), ("searchsvc.cli", 11)])


def test_each_rule_names_the_modules_that_break_it() -> None:
    names = tuple(names_in(ast.parse(_SOURCE), "searchsvc.analysis.x", False, set(_modules())))
    assert whoosh_outside_store({"searchsvc.analysis.x": names, "searchsvc.store.x": names}) == [
        "searchsvc.analysis.x imports whoosh.index (searchsvc.analysis.x:3)"]

    bad: dict[str, dict[str, int]] = {
        "searchsvc.query.plan": {"searchsvc.search.engine": 4},  # upwards, and a cycle
        "searchsvc.search.engine": {"searchsvc.query.plan": 7, "searchsvc.web.app": 9},
        "searchsvc.web.app": {"searchsvc.config": 2},
        "searchsvc.cli": {"searchsvc.web.app": 1},
        "searchsvc.extras": {},
    }
    cycle = find_cycle(bad)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert sorted(cycle[1:]) == ["searchsvc.query.plan", "searchsvc.search.engine"]
    assert all(b in bad[a] for a, b in zip(cycle, cycle[1:]))
    assert find_cycle({k: v for k, v in bad.items() if k != "searchsvc.query.plan"}) is None
    assert find_cycle({"a": {"a": 1}}) == ["a", "a"]
    assert front_ends_imported(bad) == [
        f"searchsvc.search.engine imports searchsvc.web.app ({_where('searchsvc.search.engine', 9)})"]
    assert unplaced(bad, LAYERS) == ["searchsvc.extras is in no layer"]
    assert unplaced({}, [["a"], ["a", "b"]]) == ["a is in two layers"]
    assert against_the_flow(bad, LAYERS) == [
        "searchsvc.query.plan (layer 5, query) imports searchsvc.search.engine (layer 6, search) at "
        f"{_where('searchsvc.query.plan', 4)}",
        "searchsvc.search.engine (layer 6, search) imports searchsvc.web.app (layer 8, web) at "
        f"{_where('searchsvc.search.engine', 9)}",
    ]
    assert too_long({"searchsvc.a": MAX_LINES, "searchsvc.b": MAX_LINES + 1}) == [f"searchsvc.b: {MAX_LINES + 1} lines"]
