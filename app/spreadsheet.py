"""CSV that spreadsheets open safely: every field quoted, and a formula a spreadsheet would run
(wherever it would split a cell) defused with a leading '. Shared by the portal's exports and a
company's export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

# A formula character at the start of a cell, after a character some spreadsheet splits cells on
# (`,` in English locales, `;` in French ones, tab, `|`), or after a line break (a reader that
# splits records on it starts a new row there), spaces allowed between.
_FORMULA = re.compile(r"(^|[,;\t|\r\n\v\f\x85\u2028\u2029]\s*)([=+\-@\t\r])")


def cell(value: Any) -> str:
    """A CSV cell; a formula a spreadsheet would run, wherever it would split, gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str):
        return _FORMULA.sub(r"\1'\2", text)
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Every field quoted, so a separator inside one never starts another."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def row_line(values: Iterable[Any], raw: Sequence[bool] = ()) -> str:
    """One CSV line; fields flagged in `raw` (numbers written as text) are not defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    flags = list(raw)
    writer.writerow(
        [
            ("" if v is None else str(v)) if n < len(flags) and flags[n] else cell(v)
            for n, v in enumerate(values)
        ]
    )
    return out.getvalue()
