"""Offline verification of an export (`bankfeeds certificates verify FILE`): every lines digest
re-computed from the exported lines, every chain digest from the one before, every day's
arithmetic. Pure: no database, no network; an auditor can run it on a copy."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.certificates import rules

AMOUNTS = ("opening", "credits", "debits", "closing", "expectedClosing", "difference")


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


def read(text: str) -> list[dict[str, Any]]:
    """The certificates of a JSON or CSV export, in the file's order, lines attached."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        document = json.loads(stripped, parse_float=Decimal, parse_int=Decimal)
        return list(document["certificates"])
    certificates: list[dict[str, Any]] = []
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("kind") == "certificate":
            certificates.append({**row, "current": row.get("current") == "true", "lines": []})
        elif row.get("kind") == "line":
            if not certificates:
                raise ValueError("a line row comes before any certificate row")
            certificates[-1]["lines"].append(
                {
                    "id": row["lineId"],
                    "date": row["date"],
                    "description": row["description"],
                    "amount": row["amount"],
                    "balance": row["balance"],
                }
            )
    return certificates


def _lines(raw: Iterable[dict[str, Any]]) -> list[rules.Line]:
    out = []
    for line in raw:
        amount = _dec(line["amount"])
        if amount is None:
            raise ValueError(f"line {line.get('id')!r} has no amount")
        out.append(
            rules.Line(
                str(line["id"]),
                date.fromisoformat(str(line["date"])),
                str(line["description"]),
                amount,
                _dec(line.get("balance")),
            )
        )
    return out


def _check(cert: dict[str, Any], previous: str, place: int) -> tuple[list[str], str]:
    day = str(cert["date"])
    name = f"{day} revision {cert['revision']}"
    problems = []
    if int(cert["sequence"]) != place:
        problems.append(f"{name}: sequence {cert['sequence']}, expected {place}")
    if cert["previousDigest"] != previous:
        problems.append(f"{name}: previousDigest does not follow the certificate before it")
    amounts = {k: _dec(cert.get(k)) for k in AMOUNTS}
    count = int(cert["count"])
    record = rules.chain_record(
        date.fromisoformat(day),
        int(cert["revision"]),
        amounts["opening"],
        amounts["credits"] or rules.ZERO,
        amounts["debits"] or rules.ZERO,
        count,
        amounts["closing"],
        amounts["expectedClosing"],
        str(cert["linesDigest"]),
    )
    chained = rules.chain_digest(str(cert["previousDigest"]), record)
    if chained != cert["chainDigest"]:
        problems.append(f"{name}: chainDigest does not match its content (changed after issue?)")
    opening, expected = amounts["opening"], amounts["expectedClosing"]
    if opening is not None and expected != opening + (amounts["credits"] or 0) + (
        amounts["debits"] or 0
    ):
        problems.append(f"{name}: expectedClosing is not opening + credits + debits")
    if cert.get("status") == rules.CERTIFIED and amounts["closing"] != expected:
        problems.append(f"{name}: certified, but closing differs from expectedClosing")
    if cert.get("current") and "lines" in cert:
        lines = _lines(cert["lines"])
        if rules.lines_digest(lines) != cert["linesDigest"]:
            problems.append(f"{name}: linesDigest does not match the exported lines")
        if len(lines) != count:
            problems.append(f"{name}: count {count}, but {len(lines)} lines exported")
        credits = sum((x.amount for x in lines if x.amount > 0), rules.ZERO)
        debits = sum((x.amount for x in lines if x.amount < 0), rules.ZERO)
        if (credits, debits) != (amounts["credits"], amounts["debits"]):
            problems.append(f"{name}: credits or debits differ from the exported lines")
    return problems, str(cert["chainDigest"])


def verify(certificates: list[dict[str, Any]]) -> list[str]:
    """Every problem found (empty: the export holds together)."""
    problems: list[str] = []
    previous = rules.GENESIS
    current_days: dict[str, int] = {}
    ordered = sorted(certificates, key=lambda c: int(c["sequence"]))
    for place, cert in enumerate(ordered, start=1):
        found, previous = _check(cert, previous, place)
        problems += found
        if cert.get("current"):
            current_days[str(cert["date"])] = current_days.get(str(cert["date"]), 0) + 1
    problems += [f"{d}: {n} current revisions" for d, n in current_days.items() if n != 1]
    return problems
