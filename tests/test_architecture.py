"""The must-shows of issue 17, measured by app/devtools/architecture.py on the import graph
of `app/`.

Where the house does not meet a limit yet, the debt is listed here by name so it can only
shrink: a new circle, a new climbing import or a new long module fails this test.
"""

from __future__ import annotations

from app.devtools.architecture import (
    FLOORS,
    MAX_LINES,
    climbing,
    cycles,
    floor_of,
    foreign_repositories,
    hidden_cycle_imports,
    leaks,
    long_modules,
    package_pairs,
    read_graph,
    report,
)

MAX_CLIMBING = 3

# Known debt (issue 17), to be emptied; never to be added to.
KNOWN_CYCLES: list[list[str]] = []
KNOWN_CLIMBING: set[tuple[str, str]] = set()
KNOWN_LONG: set[str] = set()
# Issue 29: packages that import each other, and imports of another package's repository.
KNOWN_PAIRS: set[tuple[str, str]] = {
    ("accounts", "connections"),
    ("accounts", "destruction"),
    ("accounts", "lifecycle"),
    ("certificates", "idx"),
    ("certificates", "transactions"),
    ("companies", "connections"),
    ("companies", "destruction"),
    ("connections", "lifecycle"),
    ("credentials", "lifecycle"),
    ("idx", "transactions"),
    ("lifecycle", "transactions"),
    ("pendings", "transactions"),
}
KNOWN_FOREIGN_REPOSITORIES: set[tuple[str, str]] = {
    ("app.accounts.events", "app.connections.repository"),
    ("app.accounts.events", "app.webhooks.repository"),
    ("app.certificates.events", "app.accounts.repository"),
    ("app.certificates.events", "app.connections.repository"),
    ("app.cli.companies", "app.exports.repository"),
    ("app.cli.jobs", "app.accounts.repository"),
    ("app.cli.tenants", "app.tenants.repository"),
    ("app.companies.service", "app.connections.repository"),
    ("app.companies.service", "app.tenants.repository"),
    ("app.destruction", "app.accounts.repository"),
    ("app.destruction", "app.connections.repository"),
    ("app.destruction", "app.kit.idempotency.repository"),
    ("app.destruction", "app.retention.repository"),
    ("app.destruction", "app.webhooks.repository"),
    ("app.doctor", "app.jobruns.repository"),
    ("app.exports.repository", "app.transactions.history_repository"),
    ("app.feeds.service", "app.accounts.repository"),
    ("app.feeds.service", "app.idx.repository"),
    ("app.housekeeping", "app.connections.repository"),
    ("app.housekeeping", "app.credentials.repository"),
    ("app.housekeeping", "app.kit.idempotency.repository"),
    ("app.housekeeping", "app.link.repository"),
    ("app.housekeeping", "app.portal.repository"),
    ("app.housekeeping", "app.transactions.repository"),
    ("app.idx.auth", "app.tenants.repository"),
    ("app.idx.paging", "app.transactions.send_repository"),
    ("app.idx.repository", "app.accounts.repository"),
    ("app.idx.repository", "app.transactions.send_repository"),
    ("app.idx.service", "app.transactions.send_repository"),
    ("app.lifecycle", "app.accounts.repository"),
    ("app.lifecycle", "app.connections.repository"),
    ("app.lifecycle", "app.credentials.repository"),
    ("app.lifecycle", "app.transactions.repository"),
    ("app.link.service", "app.accounts.repository"),
    ("app.link.service", "app.credentials.repository"),
    ("app.ops", "app.certificates.repository"),
    ("app.ops", "app.jobruns.repository"),
    ("app.ops", "app.transactions.send_repository"),
    ("app.portal.feed_health", "app.accounts.repository"),
    ("app.portal.feed_health", "app.idx.repository"),
    ("app.portal.privacy_routes", "app.retention.repository"),
    ("app.portal.repository", "app.transactions.history_repository"),
    ("app.retention.repository", "app.transactions.history_repository"),
    ("app.transactions.repository", "app.connections.repository"),
}

GRAPH = read_graph()


def test_the_floors_are_named_and_every_module_has_one() -> None:
    assert FLOORS[0] == "edge" and FLOORS[-1] == "ground"
    assert floor_of("app.accounts.repository") == "repository"
    assert floor_of("app.accounts.service") == "services"
    assert floor_of("app.portal.status_routes") == "routes"
    assert floor_of("app.clock") == "ground"
    assert all(floor_of(m) in FLOORS for m in GRAPH.modules)


def test_the_reader_sees_function_level_imports() -> None:
    hidden = [i for i in GRAPH.imports if i.in_function]
    assert hidden, "app/ has function-level imports; the reader must see them"


def test_no_new_circle() -> None:
    found = cycles(GRAPH)
    assert all(c in KNOWN_CYCLES for c in found), report(GRAPH)
    assert len(found) <= len(KNOWN_CYCLES)


def test_no_function_level_import_hides_a_new_circle() -> None:
    known = {m for c in KNOWN_CYCLES for m in c}
    assert all(i.source in known for i in hidden_cycle_imports(GRAPH)), report(GRAPH)


def test_no_new_climbing_import() -> None:
    up = {(i.source, i.target) for i in climbing(GRAPH)}
    assert up <= KNOWN_CLIMBING, sorted(up - KNOWN_CLIMBING)


def test_no_new_long_module() -> None:
    long = set(long_modules(GRAPH, MAX_LINES))
    assert long <= KNOWN_LONG, sorted(long - KNOWN_LONG)


def test_no_new_package_pair_and_no_new_reach_into_another_repository() -> None:
    assert set(package_pairs(GRAPH)) <= KNOWN_PAIRS, report(GRAPH)
    foreign = {(i.source, i.target) for i in foreign_repositories(GRAPH)}
    assert foreign <= KNOWN_FOREIGN_REPOSITORIES, sorted(foreign - KNOWN_FOREIGN_REPOSITORIES)


def test_production_never_imports_the_devtools_and_the_kit_imports_no_domain() -> None:
    assert leaks(GRAPH) == [], report(GRAPH)


def test_the_measure_reads_the_whole_app() -> None:
    """A measure that reads nothing finds nothing: it must see the domains and the kit."""
    assert {"app.main", "app.kit.api", "app.transactions.service"} <= set(GRAPH.modules)
    assert len(GRAPH.imports) > 500


def test_the_issue_limits_hold_once_the_debt_is_paid() -> None:
    """The must-show itself, less the debt listed above."""
    known = {m for c in KNOWN_CYCLES for m in c}
    assert [c for c in cycles(GRAPH) if not set(c) <= known] == []
    assert len({(i.source, i.target) for i in climbing(GRAPH)} - KNOWN_CLIMBING) <= MAX_CLIMBING
    assert all(n <= MAX_LINES for m, n in long_modules(GRAPH).items() if m not in KNOWN_LONG)


def test_the_debt_lists_are_not_stale() -> None:
    """Paying a debt shortens its list here, so the ratchet keeps its grip."""
    assert sorted(KNOWN_CYCLES) == cycles(GRAPH)
    assert {(i.source, i.target) for i in climbing(GRAPH)} == KNOWN_CLIMBING
    assert set(long_modules(GRAPH)) == KNOWN_LONG
    assert set(package_pairs(GRAPH)) == KNOWN_PAIRS
    assert {(i.source, i.target) for i in foreign_repositories(GRAPH)} == KNOWN_FOREIGN_REPOSITORIES


def test_every_package_and_root_module_is_named_in_the_architecture_doc() -> None:
    """docs/ARCHITECTURE.md names every sub-package of app/ and every module at its root, so
    a new one fails here until the doc says where it sits."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    app = root / "app"
    missing = [
        f"{path.name}/" for path in app.iterdir() if path.is_dir() and not path.name.startswith("_")
        if f"`{path.name}/" not in doc and f"{path.name}/`" not in doc
        and f"`{path.name}`" not in doc and f" {path.name}," not in doc
    ] + [
        path.name for path in app.glob("*.py") if path.name != "__init__.py"
        if f"`{path.name}`" not in doc and f"`{path.name} " not in doc
    ]  # fmt: skip
    assert not missing, f"docs/ARCHITECTURE.md does not name {missing}"
