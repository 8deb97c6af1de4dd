"""querying.py on its own: Codat's `query` strings into SQL clauses, and `orderBy`."""

from __future__ import annotations

import pytest
from sqlalchemy import column, table

from app.kit.errors import BadRequest
from app.kit.querying import MAX_CLAUSES, Field, order_by, parse

T = table("t", column("name"), column("created"), column("id"))
FIELDS = {
    "name": Field(T.c.name),
    "created": Field(T.c.created, "datetime"),
    "id": Field(T.c.id, "uuid"),
}


def sql(query: str) -> str:
    (clause,) = parse(query, FIELDS.get)
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=abc", "t.name = 'abc'"),
        ("name = abc ", "t.name = 'abc'"),
        ("name!=abc", "t.name != 'abc'"),
        ("name={abc}", "t.name = 'abc'"),
        ("name~b_c", "(t.name LIKE '%' || 'b/_c' || '%' ESCAPE '/')"),
        ("name=a&&name!=b", "t.name = 'a' AND t.name != 'b'"),
        ("name=a||name=b", "t.name = 'a' OR t.name = 'b'"),
        ("name=a&&name=b||name=c", "t.name = 'a' AND t.name = 'b' OR t.name = 'c'"),
    ],
)
def test_queries_become_clauses(query: str, expected: str) -> None:
    assert sql(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("bogus=1", "Could not resolve property bogus"),
        ("name", "Malformed query"),
        ("id=not-an-id", "id needs an id"),
        ("created>yesterday", "created needs an ISO-8601 date"),
        ("id~6a9a2b1e-3c55-4f0e-9d0a-5b2f3f1c8a11", "id does not support ~"),
        ("&&".join(["name=a"] * (MAX_CLAUSES + 1)), f"at most {MAX_CLAUSES} are allowed"),
    ],
)
def test_bad_queries_answer_400_saying_why(query: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse(query, FIELDS.get)


@pytest.mark.parametrize("query", [None, "", "   "])
def test_no_query_is_no_clause(query: str | None) -> None:
    assert parse(query, FIELDS.get) == []


def test_dates_without_a_zone_are_utc() -> None:
    (clause,) = parse("created>2026-11-20T10:00:00", FIELDS.get)
    (value,) = clause.compile().params.values()
    assert value.isoformat() == "2026-11-20T10:00:00+00:00"


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (None, ["t.id"]),
        ("name", ["t.name ASC", "t.id"]),
        ("-name", ["t.name DESC", "t.id"]),
    ],
)
def test_order_by(order: str | None, expected: list[str]) -> None:
    assert [str(c) for c in order_by(order, {"name": T.c.name}, [T.c.id])] == expected


def test_order_by_an_unknown_column_names_the_allowed_ones() -> None:
    with pytest.raises(BadRequest, match="use one of name"):
        order_by("bogus", {"name": T.c.name}, [T.c.id])
