"""The one source of "now".

Tests and `bankfeeds jobs run --now` set it; nothing else reads the OS clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """Aware UTC now, honouring a frozen or shifted clock."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def today_in(zone: str) -> date:
    return now().astimezone(ZoneInfo(zone)).date()


def freeze(at: datetime) -> None:
    global _frozen
    if at.tzinfo is None:
        raise ValueError("the clock only takes aware datetimes")
    _frozen = at.astimezone(UTC)


def shift(delta: timedelta) -> None:
    """Move a running (unfrozen) clock, or a frozen one, by delta."""
    global _frozen, _offset
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta


def reset() -> None:
    global _frozen, _offset
    _frozen = None
    _offset = timedelta(0)


@contextmanager
def frozen_at(at: datetime) -> Iterator[None]:
    freeze(at)
    try:
        yield
    finally:
        reset()
