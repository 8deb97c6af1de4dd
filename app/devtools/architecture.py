"""The import graph of `app/`, read with `ast`, measured against the floors of
docs/ARCHITECTURE.md: circles, imports that climb back up, and modules that grew too long.

Run `python -m app.devtools.architecture` for the report; tests/test_architecture.py holds
the limits.
Function-level imports count like module-level ones: hiding an import in a function does not
break a circle, it only hides it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # app/
# A module is as long as its one concern (STYLE.md): the measure only flags one past ~600 lines,
# where a second concern has usually moved in.
MAX_LINES = 600

# Floors, top to bottom. Imports may only go down (or stay on the same floor).
FLOORS = ("edge", "routes", "services", "lifecycle", "events", "repository", "tables", "ground")

# Modules whose floor does not follow from their file name (see `floor_of`).
EXPLICIT: dict[str, str] = {
    "app.main": "edge",
    # The operation layer routes are declared with; it may know no domain above the repositories.
    "app.kit.api": "routes",
    # The rest of the kit sits on the ground floor with config, clock and db: the wire shapes
    # every domain shares, the errors, reading inputs and queries, and the request guards.
    "app.kit.schemas": "ground",
    "app.cli": "edge",
    "app.worker": "edge",
    "app.doctor": "edge",
    "app.migrate": "edge",
    "app.openapi": "edge",
    "app.instance": "edge",  # where a running `bankfeeds dev` is recorded
    "app.embedded_redis": "edge",
    "app.resilience": "edge",  # the worker's, around arq
    "app.idx.auth": "routes",
    "app.tenants.auth": "routes",
    "app.portal.guard": "routes",
    "app.ops": "routes",
    "app.kit.services": "routes",  # what the lifespan builds once, handed to routes
    "app.portal.pages": "routes",
    "app.lifecycle": "lifecycle",
    # transactions' SQL, split by concern: pushes (repository.py), sends and IDX pages, history.
    "app.transactions.send_repository": "repository",
    "app.transactions.history_repository": "repository",
    "app.housekeeping": "lifecycle",
    "app.destruction": "lifecycle",
    "app.retention.rules": "tables",
    "app.tables": "tables",
    "app.kit.principal": "tables",
    "app.portal.messages": "tables",
    # Pure modules (no I/O, no session) sit with the wire shapes they compute over.
    "app.transactions.rules": "tables",
    "app.companies.zone": "tables",
    "app.pendings.rules": "tables",
    "app.certificates.rules": "tables",
    "app.certificates.verify": "tables",
    # Domain helpers with the rules of one domain sit with the services.
    "app.connections.links": "services",
    "app.transactions.options": "services",
    "app.pendings.linking": "services",  # links of cleared lines to holds; expiry
    "app.pendings.views": "services",  # holds as the portal and the Link page show them
    "app.pendings.reversals": "services",  # reversal lines, pushed through the push's rules
    "app.portal.status": "services",
    "app.certificates.engine": "services",
    "app.certificates.calendar": "services",
    "app.portal.feed_health": "services",
    "app.webhooks.delivery": "services",
    "app.idx.throttle": "services",
    "app.idx.paging": "services",  # where a page of a pull starts (batch counts, then a range scan)
}

SUFFIX_FLOORS = {
    "routes": "routes",
    "jobs": "routes",  # arq's entry points: the HTTP routes of the worker
    "service": "services",
    "events": "events",
    "repository": "repository",
    "tables": "tables",
    "schemas": "tables",
}


def floor_of(module: str) -> str:
    """The floor of a dotted module name; anything not named is ground (config, clock, db...)."""
    if module in EXPLICIT:
        return EXPLICIT[module]
    if module.startswith(("app.cli.", "app.devtools.")):
        return "edge"
    last = module.rsplit(".", 1)[-1]
    if last.endswith("_routes"):
        return "routes"
    if module.count(".") >= 2 and last in SUFFIX_FLOORS:
        return SUFFIX_FLOORS[last]
    return "ground"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


@dataclass
class Graph:
    modules: dict[str, Path]
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {m: set() for m in self.modules}
        for imp in self.imports:
            if imp.target != imp.source:
                out[imp.source].add(imp.target)
        return out


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _walk(
    node: ast.AST, in_function: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        yield from _walk(child, inside)


def read_graph(root: Path = ROOT) -> Graph:
    modules = {
        _module_name(p): p
        for p in sorted(root.rglob("*.py"))
        if "migrations" not in p.relative_to(root).parts
    }
    graph = Graph(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, in_function in _walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level or not node.module or not node.module.startswith("app"):
                    continue
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.append(full if full in modules else node.module)
            else:
                targets = [a.name for a in node.names if a.name.split(".")[0] == "app"]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != "app":
                    graph.imports.append(Import(name, target, node.lineno, in_function))
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    edges = graph.edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def hidden_cycle_imports(graph: Graph) -> list[Import]:
    """Function-level imports between two modules of the same circle."""
    members = {m: i for i, c in enumerate(cycles(graph)) for m in c}
    return [
        imp
        for imp in graph.imports
        if imp.in_function
        and imp.source in members
        and members.get(imp.target) == members[imp.source]
    ]


def climbing(graph: Graph) -> list[Import]:
    """Imports from a lower floor to a higher one, one per (source, target) pair."""
    seen: set[tuple[str, str]] = set()
    out = []
    for imp in graph.imports:
        up = FLOORS.index(floor_of(imp.target)) < FLOORS.index(floor_of(imp.source))
        if up and (imp.source, imp.target) not in seen:
            seen.add((imp.source, imp.target))
            out.append(imp)
    return out


def package_of(module: str) -> str:
    """The package a module belongs to: `app.accounts.service` -> `accounts`; a module at the
    root of `app/` is a package of its own (`app.main` -> `main`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_pairs(graph: Graph) -> list[tuple[str, str]]:
    """Pairs of packages that import each other (each way through any of their modules)."""
    edges = {
        (package_of(i.source), package_of(i.target))
        for i in graph.imports
        if package_of(i.source) != package_of(i.target)
    }
    return sorted((a, b) for a, b in edges if a < b and (b, a) in edges)


def foreign_repositories(graph: Graph) -> list[Import]:
    """Imports of another package's repository module (its SQL), one per (source, target)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for imp in graph.imports:
        last = imp.target.rsplit(".", 1)[-1]
        foreign = package_of(imp.source) != package_of(imp.target)
        if last.endswith("repository") and foreign and (imp.source, imp.target) not in seen:
            seen.add((imp.source, imp.target))
            out.append(imp)
    return out


def leaks(graph: Graph) -> list[Import]:
    """Imports the house forbids outright: production code importing `app.devtools`, and the
    kit importing anything but itself and the ground modules at the root of `app/`."""

    def forbidden(source: str, target: str) -> bool:
        if target.startswith("app.devtools"):
            return source != "devtools"
        ground_root = target.count(".") == 1 and floor_of(target) == "ground"
        return source == "kit" and not target.startswith("app.kit") and not ground_root

    return [imp for imp in graph.imports if forbidden(package_of(imp.source), imp.target)]


def long_modules(graph: Graph, limit: int = MAX_LINES) -> dict[str, int]:
    lengths = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in graph.modules.items()}
    return {m: n for m, n in sorted(lengths.items()) if n > limit}


def report(graph: Graph) -> str:
    lines = []
    found = cycles(graph)
    lines.append(f"circles: {len(found)}")
    lines += [f"  {' <-> '.join(c)}" for c in found]
    hidden = hidden_cycle_imports(graph)
    lines.append(f"function-level imports inside a circle: {len(hidden)}")
    lines += [f"  {i.source}:{i.line} -> {i.target}" for i in hidden]
    up = climbing(graph)
    lines.append(f"climbing imports: {len(up)}")
    lines += [
        f"  {i.source} ({floor_of(i.source)}) -> {i.target} ({floor_of(i.target)})" for i in up
    ]
    pairs = package_pairs(graph)
    lines.append(f"package pairs that import each other: {len(pairs)}")
    lines += [f"  {a} <-> {b}" for a, b in pairs]
    foreign = foreign_repositories(graph)
    lines.append(f"imports of another package's repository: {len(foreign)}")
    lines += [f"  {i.source} -> {i.target}" for i in foreign]
    bad = leaks(graph)
    lines.append(f"imports of devtools from production, or of a domain from the kit: {len(bad)}")
    lines += [f"  {i.source}:{i.line} -> {i.target}" for i in bad]
    long = long_modules(graph)
    lines.append(f"modules over {MAX_LINES} lines: {len(long)}")
    lines += [f"  {m}: {n}" for m, n in long.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(read_graph()))
