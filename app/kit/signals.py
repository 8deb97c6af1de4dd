"""In-process signals and hooks: a lower domain says what just happened (a signal) or asks what
it needs (a hook) of a package above it, in the caller's transaction, without importing it.

Not webhooks: those are `<domain>/events.py`, rows for the client. A signal or hook has one
receiver, connected by `app.lifecycle.install()` when a process starts (the app, the worker):
the cross-domain cascades (`app/lifecycle/`) or the one domain above that answers it. Sending
to one nothing answers raises, so a process that never installed them fails loudly instead of
quietly skipping their work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Hook(Generic[P, R]):
    """`Hook[[AsyncSession, Settings, uuid.UUID], str]("a company's fresh redirect")`: what the
    sender passes, typed, to the one receiver, and what the receiver answers."""

    kind: ClassVar[str] = "hook"

    def __init__(self, name: str) -> None:
        self.name = name
        self._receiver: Callable[P, Awaitable[R]] | None = None

    @property
    def connected(self) -> bool:
        return self._receiver is not None

    def connect(self, receiver: Callable[P, Awaitable[R]]) -> None:
        """Connecting again replaces the receiver (installing twice is harmless)."""
        self._receiver = receiver

    async def ask(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._receiver is None:
            raise RuntimeError(
                f"nothing answers the {self.kind} {self.name!r}: "
                "app.lifecycle.install() was not called"
            )
        return await self._receiver(*args, **kwargs)


class Signal(Hook[P, None]):
    """`Signal[[AsyncSession, SourceAccount]]("account disconnected")`: a hook whose sender
    needs no answer."""

    kind: ClassVar[str] = "signal"

    async def send(self, *args: P.args, **kwargs: P.kwargs) -> None:
        await self.ask(*args, **kwargs)
