"""Every table of the metadata has a retention and deletion rule, and each rule has code behind
it: a new table without an entry in app/retention/rules.py fails here."""

from __future__ import annotations

import app.tables  # noqa: F401  (every table in the metadata)
from app.db import Base
from app.lifecycle.destruction import SCRUBS
from app.retention.repository import PURGES
from app.retention.rules import POLICIES, RULES

OWNERS = {"companies", "source_accounts"}


def _cascades_to_owner(name: str, seen: frozenset[str] = frozenset()) -> bool:
    """An ON DELETE CASCADE path from `name` to a company (or to a scrubbed table)."""
    if name in OWNERS:
        return True
    for fk in Base.metadata.tables[name].foreign_keys:
        target = fk.column.table.name
        if fk.ondelete != "CASCADE" or target in seen:
            continue
        if RULES[target].on_delete == "scrub" or _cascades_to_owner(target, seen | {name}):
            return True
    return False


def test_every_table_in_the_metadata_has_a_rule() -> None:
    tables = set(Base.metadata.tables)
    assert tables - set(RULES) == set(), "tables with no retention/deletion rule"
    assert set(RULES) - tables == set(), "rules for tables that do not exist"


def test_each_rule_is_one_of_the_known_kinds_and_policies_exist() -> None:
    for name, rule in RULES.items():
        assert rule.keep in {"policy", "expiry", "owner", "latest"}, name
        assert rule.on_delete in {"cascade", "scrub", "none", "kept"}, name
        assert (rule.keep == "policy") == (rule.policy is not None), name
        if rule.policy is not None:
            assert rule.policy in POLICIES, name


def test_cascade_tables_reach_a_company_and_none_tables_do_not() -> None:
    for name, rule in RULES.items():
        if rule.on_delete == "cascade":
            assert _cascades_to_owner(name), f"{name}: no ON DELETE CASCADE path to a company"
        if rule.on_delete in {"none", "kept"}:
            assert not _cascades_to_owner(name), f"{name} cascades from companies: say so"


def test_scrubbed_tables_have_a_scrub_and_policies_a_purge() -> None:
    assert {n for n, r in RULES.items() if r.on_delete == "scrub"} == set(SCRUBS)
    assert set(PURGES) == set(POLICIES)
