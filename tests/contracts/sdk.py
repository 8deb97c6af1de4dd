"""The official `codat-bankfeeds` SDK pointed at our app: contract tests call the client API
through it, so an answer the SDK cannot read (a missing field, a wrong type or enum value, an
unknown key it would silently drop) fails the test.

The SDK is synchronous; its calls run in a worker thread and each HTTP request is handed back
to the test's event loop, where the in-process ASGI client sends it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

import codat_bankfeeds
import httpx
from codat_bankfeeds import CodatBankFeeds
from codat_bankfeeds import api as sdk_api
from codat_bankfeeds.api_client import ApiClient
from codat_bankfeeds.models import operations as sdk_operations
from codat_bankfeeds.models.shared.security import Security
from pydantic import BaseModel, RootModel, TypeAdapter


class _ToLoop(httpx.BaseTransport):
    """A sync transport that sends each request with the async test client on its own loop."""

    def __init__(self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.http, self.loop = http, loop
        self.answers: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            forwarded = self.http.build_request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
            return await self.http.send(forwarded)

        answer = asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=60)
        self.answers.append(answer)
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() != "content-encoding"]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)


class Sdk:
    """`await sdk.call(sdk.client.companies.create, request={...})` returns what the SDK parsed
    and checks that it kept every key of our JSON answer."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.transport = _ToLoop(http, asyncio.get_running_loop())
        self.client = CodatBankFeeds(
            security=Security(auth_header=headers["Authorization"]),
            server_url=str(http.base_url).rstrip("/"),
            client=httpx.Client(transport=self.transport, base_url=http.base_url),
        )

    async def call(self, method: Callable[..., Any], **kw: Any) -> Any:
        parsed = await asyncio.to_thread(method, **kw)
        answer = self.transport.answers[-1]
        if answer.content:
            assert_nothing_dropped(answer.json(), parsed)
        return parsed

    async def refused(self, method: Callable[..., Any], **kw: Any) -> Any:
        """A call our API refuses: the SDK must raise its typed ErrorMessage, parsed."""
        from codat_bankfeeds.models.errors import ErrorMessage

        try:
            await asyncio.to_thread(method, **kw)
        except ErrorMessage as exc:
            assert_nothing_dropped(self.transport.answers[-1].json(), exc.data)
            return exc
        raise AssertionError("the SDK did not raise its ErrorMessage")


# Fields we add to Codat's shapes, each documented as an extension in docs/API.md.
EXTENSION_FIELDS: dict[str, set[str]] = {
    "Company": {"timeZone"},
}


def _unwrapped(parsed: Any) -> Any:
    while True:
        if isinstance(parsed, RootModel):
            parsed = parsed.root
        elif isinstance(parsed, BaseModel) and "actual_instance" in type(parsed).model_fields:
            parsed = parsed.actual_instance  # a oneOf wrapper
        else:
            return parsed


def assert_nothing_dropped(ours: Any, parsed: Any, where: str = "$") -> None:
    """Every key we send is a field of the SDK's model (else a typo or an undeclared field),
    and every value we send survives the parse."""
    parsed = _unwrapped(parsed)
    if ours is None:
        return
    assert parsed is not None, f"{where}: the SDK lost {ours!r}"
    if isinstance(ours, dict) and isinstance(parsed, BaseModel):
        fields = {(info.alias or name): name for name, info in type(parsed).model_fields.items()}
        unknown = set(ours) - set(fields) - EXTENSION_FIELDS.get(type(parsed).__name__, set())
        assert not unknown, f"{where}: {type(parsed).__name__} has no field {sorted(unknown)}"
        for key, value in ours.items():
            if key in fields:
                assert_nothing_dropped(value, getattr(parsed, fields[key]), f"{where}.{key}")
    elif isinstance(ours, dict):  # a free-form map (tags, properties)
        assert isinstance(parsed, dict) and set(parsed) == set(ours), f"{where}: {parsed!r}"
        for key, value in ours.items():
            assert_nothing_dropped(value, parsed[key], f"{where}.{key}")
    elif isinstance(ours, list):
        assert isinstance(parsed, list) and len(parsed) == len(ours), f"{where}: {parsed!r}"
        for i, (value, item) in enumerate(zip(ours, parsed, strict=True)):
            assert_nothing_dropped(value, item, f"{where}[{i}]")


def operations() -> dict[str, tuple[str, str]]:
    """The SDK's operations, read from its own source: operation id → (method, path)."""
    found: dict[str, tuple[str, str]] = {}
    for module in vars(sdk_api).values():
        if not inspect.ismodule(module):
            continue
        source = inspect.getsource(module)
        routes = dict(
            (name, (method, path))
            for name, method, path in re.findall(
                r"def _(\w+)_serialize\(.*?method='(\w+)',\s*resource_path='([^']+)'", source, re.S
            )
        )
        for name, operation_id in re.findall(
            r"self\._(\w+)_serialize\(.*?operation_id='([^']+)'", source, re.S
        ):
            found[operation_id] = routes[name]
    assert found, f"no operations found in codat_bankfeeds {codat_bankfeeds.__version__}"
    return found


def read(type_name: str, body: Any) -> Any:
    """Parse one of our JSON answers as the SDK parses that operation's answer: with its own
    deserializer for a model name (`Company`), or with the TypeAdapter it uses for the union
    bodies of `codat_bankfeeds.models.operations` (`ListSourceAccountsResponseBody`,
    `List[ResponseBody]`)."""
    text = json.dumps(body)
    inner = type_name.removeprefix("List[").removesuffix("]")
    union = getattr(sdk_operations, inner, None)
    if union is not None:
        parsed = TypeAdapter(list[union] if inner != type_name else union).validate_json(text)
    else:
        parsed = ApiClient().deserialize(text, type_name, "application/json")
    assert_nothing_dropped(body, parsed)
    return parsed
