"""In-process signals: a domain says what just happened, in the caller's transaction, and the
cross-domain cascades above it (`app/lifecycle/`) answer, without the domain importing them.

Not webhooks: those are `<domain>/events.py`, rows for the client. A signal has one receiver,
connected by `app.lifecycle.install()` when a process starts (the app, the worker); sending a
signal nothing answers raises, so a process that never installed the cascades fails loudly
instead of quietly skipping them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Signal(Generic[P]):
    """`Signal[[AsyncSession, SourceAccount]]("account disconnected")`: what the sender passes,
    typed, to the one receiver."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receiver: Callable[P, Awaitable[None]] | None = None

    @property
    def connected(self) -> bool:
        return self._receiver is not None

    def connect(self, receiver: Callable[P, Awaitable[None]]) -> None:
        """Connecting again replaces the receiver (installing twice is harmless)."""
        self._receiver = receiver

    async def send(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if self._receiver is None:
            raise RuntimeError(
                f"nothing answers the signal {self.name!r}: app.lifecycle.install() was not called"
            )
        await self._receiver(*args, **kwargs)
