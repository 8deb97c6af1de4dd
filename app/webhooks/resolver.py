"""Resolving webhook hosts off the request path: c-ares through `aiodns` (no thread: asyncio's
`getaddrinfo` runs on the loop's shared default executor, which a few never-answering names
fill, starving every other look-up, such as a new database connection's), with a concurrency
bound of its own and one deadline per look-up (waiting for a place included). An answer that
the name does not exist is `NotFound`; no answer in time, a full resolver or a failing server
is `NoAnswer`, for the caller to refuse as retryable, never to accept unchecked."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

import aiodns
from aiodns.error import DNSError

IPAddress = IPv4Address | IPv6Address
# c-ares answers for a name that does not exist, or has no address of the kind asked.
NOT_FOUND = {4, 1}  # ARES_ENOTFOUND, ARES_ENODATA


class NotFound(Exception):
    """The name does not exist or has no address."""


class NoAnswer(Exception):
    """The look-up could not finish: no answer in time, the resolver busy, a failing server."""


@dataclass(frozen=True)
class Config:
    servers: tuple[str, ...] = ()  # "ip" or "ip:port"; empty: the system's (resolv.conf)
    concurrency: int = 16
    deadline: float = 3.0


class Resolver:
    """One per event loop (c-ares channels and semaphores belong to the loop they started on)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._places = asyncio.Semaphore(config.concurrency)
        self._dns = aiodns.DNSResolver(
            nameservers=list(config.servers) or None, timeout=config.deadline, tries=1
        )

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            async with asyncio.timeout(self.config.deadline):
                async with self._places:
                    found = await self._dns.getaddrinfo(host, port=port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise NoAnswer(host) from None
        except DNSError as exc:
            code = exc.args[0] if exc.args else None
            raise (NotFound if code in NOT_FOUND else NoAnswer)(host) from exc
        except UnicodeError as exc:
            raise NotFound(host) from exc
        addresses = [ip_address(_text(node.addr[0])) for node in found.nodes]
        if not addresses:
            raise NotFound(host)
        return list(dict.fromkeys(addresses))

    def close(self) -> None:
        self._dns.cancel()


_resolvers: dict[tuple[int, Config], Resolver] = {}


def for_loop(config: Config) -> Resolver:
    """The running loop's resolver for this configuration."""
    key = (id(asyncio.get_running_loop()), config)
    found = _resolvers.get(key)
    if found is None:
        found = _resolvers[key] = Resolver(config)
    return found


def _text(value: str | bytes) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value
