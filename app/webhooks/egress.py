"""Where webhooks may go: public (global unicast) addresses only, unless the operator opens a
range with BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS. A tenant's URL is checked when it is registered
and again before every attempt, on the addresses the name resolves to *then*; the attempt then
connects to exactly the address checked (the URL's host is replaced by it, while the Host header
and the TLS server name keep the original name), so a DNS answer that changes between the check
and the connection (rebinding) cannot reach anything else."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx

from app.config import Settings
from app.webhooks import resolver

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Special-use and cloud-internal names (RFC 6761, RFC 8375, ICANN's .internal): refused unless
# every address they resolve to is in an explicitly allowed network.
LOCAL_NAMES = frozenset({"localhost", "metadata.google.internal", "instance-data"})
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
# inet_aton's spellings of an IPv4 address: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)
SHARED_V4 = IPv4Network("100.64.0.0/10")  # carrier-grade NAT
UNIQUE_LOCAL_V6 = IPv6Network("fc00::/7")
SITE_LOCAL_V6 = IPv6Network("fec0::/10")  # deprecated (RFC 3879), still routed inside some sites
GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")  # everything else in IPv6 is not global unicast
COMPAT_V6 = IPv6Network("::/96")  # deprecated IPv4-compatible form, ::a.b.c.d
# What a tenant is told of any refused or unchecked name: never which (an internal DNS oracle).
NAME_REFUSED = "{host} could not be checked, or does not reach only public addresses"


class Refused(Exception):
    """A URL we will not send to; `reason` says why in words a client can act on (and names no
    address that a name resolved to, which would map our network for the tenant)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unresolved(Exception):
    """The endpoint's name did not resolve (at send time, a failed attempt)."""


class Unchecked(Unresolved):
    """The look-up could not finish (no answer in time, the resolver busy): retry later."""


@dataclass(frozen=True)
class Policy:
    allowed: tuple[Network, ...] = ()
    https_only: bool = False
    dns: resolver.Config = field(default_factory=resolver.Config)

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """https only when the service itself is public over https (production)."""
        return cls(
            settings.webhook_networks,
            settings.public_base_url.startswith("https://"),
            resolver.Config(
                settings.webhook_dns_server_list,
                settings.webhook_dns_concurrency,
                settings.webhook_dns_timeout_seconds,
            ),
        )

    def allows(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.allowed)


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the URL with its host replaced by the checked address, the
    Host header of the original name, and the TLS server name (SNI and certificate check)."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def literal(host: str) -> IPAddress | None:
    """The address a host spells, in any of the forms a resolver would accept, or None."""
    bare = host.strip("[]")
    try:
        return ip_address(bare)
    except ValueError:
        pass
    if NUMERIC_V4.match(bare):
        try:
            return IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def address_problem(ip: IPAddress, policy: Policy) -> str | None:
    """Why `ip` may not be reached ("a loopback address", …), or None when it may."""
    if policy.allows(ip):
        return None
    if isinstance(ip, IPv6Address):
        inner = ip.ipv4_mapped
        if inner is None and ip in COMPAT_V6 and int(ip) > 1:
            inner = IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:  # the socket would reach the IPv4 address itself
            problem = address_problem(inner, policy)
            return f"{problem} (in IPv6 form)" if problem else None
        tunnelled = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if tunnelled is not None and (problem := address_problem(tunnelled, policy)):
            return f"{problem} (tunnelled in IPv6)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, IPv6Address) and ip in UNIQUE_LOCAL_V6:
        return "a unique-local address"
    if isinstance(ip, IPv6Address) and ip in SITE_LOCAL_V6:
        return "a site-local address"
    if isinstance(ip, IPv4Address) and ip in SHARED_V4:
        return "a shared (carrier-grade NAT) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or (isinstance(ip, IPv6Address) and ip not in GLOBAL_UNICAST_V6):
        return "not a public address"
    return None


def local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES) or "." not in name


def parse(url: str, policy: Policy) -> httpx.URL:
    """The URL, refused for its form alone: scheme, credentials, missing host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused("the URL is not valid") from exc
    if parsed.scheme not in ("http", "https"):
        raise Refused("only http and https URLs are accepted")
    if policy.https_only and parsed.scheme != "https":
        raise Refused("only https URLs are accepted")
    if parsed.userinfo:
        raise Refused("URLs with a user name or password are not accepted")
    if not parsed.host:
        raise Refused("the URL has no host")
    return parsed


async def resolve(host: str, port: int, config: resolver.Config) -> list[IPAddress]:
    """Every address `host` has (c-ares, bounded and with a deadline: app/webhooks/resolver.py).
    Raises resolver.NotFound or resolver.NoAnswer."""
    return await resolver.for_loop(config).addresses(host, port)


async def addresses(url: httpx.URL, policy: Policy) -> list[IPAddress]:
    """The checked addresses of the URL's host: all of them must be allowed, or it is refused.
    Raises Unresolved when a name does not resolve, Unchecked when the look-up cannot finish.
    A name's refusal never says why (private, local, or not there at all): one message."""
    host = url.raw_host.decode("ascii")
    if (ip := literal(host)) is not None:
        if problem := address_problem(ip, policy):
            raise Refused(f"{ip} is {problem}")
        return [ip]
    refused = Refused(NAME_REFUSED.format(host=host))
    try:
        found = await resolve(host, url.port or (443 if url.scheme == "https" else 80), policy.dns)
    except resolver.NoAnswer as exc:
        raise Unchecked(refused.reason) from exc
    except resolver.NotFound as exc:
        if local_name(host):
            raise refused from exc
        raise Unresolved(refused.reason) from exc
    if local_name(host) and not all(policy.allows(ip) for ip in found):
        raise refused
    if any(address_problem(ip, policy) for ip in found):
        raise refused
    return found


async def check_registration(url: str, policy: Policy) -> None:
    """Refuses a URL that reaches anything but allowed addresses, or whose name does not
    resolve; raises Unchecked (the caller answers a retryable error) when the look-up cannot
    finish. Never accepted unchecked; every attempt checks the name again before connecting."""
    try:
        await addresses(parse(url, policy), policy)
    except Unchecked:
        raise
    except Unresolved as exc:
        raise Refused(str(exc)) from exc


async def target(url: str, policy: Policy) -> Target:
    """Checks the URL now and pins the attempt to the first checked address."""
    parsed = parse(url, policy)
    ip = (await addresses(parsed, policy))[0]
    name = parsed.raw_host.decode("ascii")
    if literal(name) is not None:
        return Target(parsed)
    pinned = parsed.copy_with(host=str(ip))
    extensions = {"sni_hostname": name} if parsed.scheme == "https" else {}
    return Target(pinned, {"host": parsed.netloc.decode("ascii")}, extensions)


def client() -> httpx.AsyncClient:
    """The worker's client for webhooks: no redirects (a 3xx is an answer, never followed to an
    unchecked place), no proxy from the environment, and no kept-alive connections (a pooled
    connection is keyed by address, and must never carry another name's request)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
