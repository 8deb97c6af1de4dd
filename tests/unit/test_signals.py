"""The domains' signals and hooks (app/kit/signals.py) and what answers them (app/lifecycle/'s
cascades, or the domain above): one nothing answers fails loudly, and install() answers every
one."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil

import pytest

import app
from app.kit.signals import Hook, Signal


def test_a_signal_nothing_answers_raises_with_its_name() -> None:
    unanswered: Signal[[int]] = Signal("nothing listens")
    with pytest.raises(RuntimeError, match="nothing listens"):
        asyncio.run(unanswered.send(1))


def test_the_one_receiver_gets_what_is_sent_and_connecting_again_replaces_it() -> None:
    heard: list[tuple[str, int]] = []
    signal: Signal[[int]] = Signal("counted")

    async def first(n: int) -> None:
        heard.append(("first", n))

    async def second(n: int) -> None:
        heard.append(("second", n))

    signal.connect(first)
    asyncio.run(signal.send(1))
    signal.connect(second)
    asyncio.run(signal.send(2))
    assert heard == [("first", 1), ("second", 2)]


def test_a_hook_nothing_answers_raises_and_the_receiver_answers_it() -> None:
    asked: Hook[[int], str] = Hook("nothing answers yet")
    with pytest.raises(RuntimeError, match="nothing answers the hook 'nothing answers yet'"):
        asyncio.run(asked.ask(1))

    async def answer(n: int) -> str:
        return f"got {n}"

    asked.connect(answer)
    assert asyncio.run(asked.ask(2)) == "got 2"


def test_install_answers_every_signal_and_hook_a_domain_declares() -> None:
    from app import lifecycle

    declared: dict[str, Hook[..., object]] = {}
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if ".devtools" in info.name or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Hook) and getattr(module, name) is value:
                declared[f"{info.name}.{name}"] = value
    assert {
        "app.accounts.service.DISCONNECTED",
        "app.accounts.service.DELETING",
        "app.companies.service.DELETING",
        "app.companies.service.CONNECTIONS",
        "app.companies.service.FRESH_REDIRECT",
        "app.connections.service.UNLINKED",
        "app.idx.service.QUERIED",
        "app.transactions.service.LINKS",
        "app.transactions.events.WITHDRAWN",
    } <= set(declared)
    lifecycle.install()
    assert [name for name, signal in declared.items() if not signal.connected] == []
