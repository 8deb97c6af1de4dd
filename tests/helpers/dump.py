"""Every table of the metadata, every column, as text: what a deletion must leave no trace in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import app.tables  # noqa: F401  (every table in the metadata)
from app.db import Base


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


async def dump(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Table name -> all its rows' values, as text (bytes decoded, JSON as written)."""
    out: dict[str, str] = {}
    async with sessions() as session:
        for name, table in Base.metadata.tables.items():
            rows = (await session.execute(select(*table.c))).all()
            out[name] = "\n".join(" | ".join(_text(v) for v in row) for row in rows)
    return out


def tables_with(text: dict[str, str], marker: str) -> list[str]:
    return sorted(name for name, body in text.items() if marker in body)
