"""The domains' signals (app/kit/signals.py) and the cascades that answer them
(app/lifecycle/): a signal nothing answers fails loudly, and install() answers every one."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil

import pytest

import app
from app.kit.signals import Signal


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


def test_install_answers_every_signal_a_domain_declares() -> None:
    from app import lifecycle

    declared: dict[str, Signal[...]] = {}
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if ".devtools" in info.name or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Signal) and getattr(module, name) is value:
                declared[f"{info.name}.{name}"] = value
    assert {
        "app.accounts.service.DISCONNECTED",
        "app.accounts.service.DELETING",
        "app.companies.service.DELETING",
        "app.connections.service.UNLINKED",
        "app.idx.service.QUERIED",
    } <= set(declared)
    lifecycle.install()
    assert [name for name, signal in declared.items() if not signal.connected] == []
