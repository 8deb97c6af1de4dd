"""`bankfeeds tenants ...`: tenants, their API and partner keys, and portal users."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.common import in_transaction, show
from app.config import Settings
from app.portal import service as portal
from app.tenants import service as tenants
from app.tenants.tables import ENVIRONMENTS


@click.group("tenants")
def tenants_group() -> None:
    """Client apps (tenants), their API keys and Intuit partner keys."""


@tenants_group.command("create")
@click.argument("name")
@click.option(
    "--time-zone",
    default=None,
    metavar="ZONE",
    help="IANA zone for 'today' (default America/Toronto).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
def tenants_create(name: str, time_zone: str | None, as_json: bool) -> None:
    """Create a tenant; prints its production and sandbox API keys and Intuit partner keys
    ONCE (--json: one object for scripts)."""

    async def work(session: AsyncSession, settings: Settings) -> tenants.NewTenant:
        zone = time_zone or settings.default_time_zone
        Settings(default_time_zone=zone)  # validates the zone name
        return await tenants.create_tenant(session, name, zone, settings.max_api_keys)

    made = in_transaction(work)
    data = {
        "tenantId": str(made.tenant.id),
        "name": made.tenant.name,
        "timeZone": made.tenant.time_zone,
        "apiKey": made.api_keys["production"],
        "sandboxApiKey": made.api_keys["sandbox"],
        "partnerKeys": made.partner_keys,
    }
    show(
        data,
        as_json,
        [
            f"Tenant {made.tenant.name} ({made.tenant.id}), time zone {made.tenant.time_zone}",
            "",
            "These secrets are shown once. Store them now.",
            f"  API key (production):        {made.api_keys['production']}",
            f"  API key (sandbox):           {made.api_keys['sandbox']}",
            f"  Intuit partner key (production): {made.partner_keys['production']}",
            f"  Intuit partner key (sandbox):    {made.partner_keys['sandbox']}",
            "",
            'Call the API with:  Authorization: Basic $(printf %s "$API_KEY" | base64 -w0)',
        ],
    )


@tenants_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def tenants_list(as_json: bool) -> None:
    """List tenants (or say there are none)."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str]]:
        return [
            {"tenantId": str(t.id), "name": t.name, "timeZone": t.time_zone}
            for t in await tenants.list_tenants(session)
        ]

    rows = in_transaction(work)
    lines = [f"{r['tenantId']}  {r['name']}  {r['timeZone']}" for r in rows]
    show(rows, as_json, lines or ["no tenants (`bankfeeds tenants create NAME` makes one)"])


@tenants_group.group("keys")
def keys_group() -> None:
    """Add, list or revoke a tenant's API keys (at most 10 active)."""


@keys_group.command("add")
@click.argument("tenant")
@click.option(
    "--environment", type=click.Choice(ENVIRONMENTS), default="production", show_default=True
)
@click.option("--json", "as_json", is_flag=True)
def keys_add(tenant: str, environment: str, as_json: bool) -> None:
    """Add an API key to TENANT (name or id); prints it once."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Any, str]:
        return await tenants.add_api_key(session, tenant, environment, settings.max_api_keys)

    row, key = in_transaction(work)
    show(
        {"tenantId": str(row.id), "environment": environment, "apiKey": key},
        as_json,
        [f"New {environment} API key for {row.name} (shown once): {key}"],
    )


@keys_group.command("list")
@click.argument("tenant")
@click.option("--json", "as_json", is_flag=True)
def keys_list(tenant: str, as_json: bool) -> None:
    """List TENANT's keys: id, environment, prefix, created, revoked (never the key)."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str | None]]:
        row = await tenants.get_tenant(session, tenant)
        return [
            {
                "keyId": str(k.id),
                "environment": k.environment,
                "prefix": k.prefix,
                "created": k.created_at.isoformat(),
                "revoked": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in await tenants.keys_of(session, row.id)
        ]

    rows = in_transaction(work)
    show(
        rows,
        as_json,
        [
            f"{r['keyId']}  {r['environment']:<10}  {r['prefix']}…  created {r['created']}"
            + (f"  revoked {r['revoked']}" if r["revoked"] else "")
            for r in rows
        ],
    )


@keys_group.command("revoke")
@click.argument("tenant")
@click.argument("key_id")
def keys_revoke(tenant: str, key_id: str) -> None:
    """Revoke one of TENANT's keys by its id (see `keys list`); effective at once."""

    async def work(session: AsyncSession, _: Settings) -> None:
        await tenants.revoke_api_key(session, tenant, key_id)

    in_transaction(work)
    click.echo(f"revoked key {key_id}")


@tenants_group.group("partner-keys")
def partner_keys_group() -> None:
    """The Intuit partner keys QuickBooks sends as X-Partner-Key."""


@partner_keys_group.command("rotate")
@click.argument("tenant")
@click.option("--environment", type=click.Choice(ENVIRONMENTS), required=True)
@click.option("--json", "as_json", is_flag=True)
def partner_keys_rotate(tenant: str, environment: str, as_json: bool) -> None:
    """Replace TENANT's partner key for one environment; the old one stops working at once."""

    async def work(session: AsyncSession, _: Settings) -> str:
        return await tenants.rotate_partner_key(session, tenant, environment)

    key = in_transaction(work)
    show(
        {"environment": environment, "partnerKey": key},
        as_json,
        [f"New {environment} partner key (shown once): {key}"],
    )


@tenants_group.group("users")
def users_group() -> None:
    """Staff of a tenant who sign in to the client portal (/portal)."""


@users_group.command("add")
@click.argument("tenant")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input; otherwise one is generated and shown once.",
)
@click.option("--json", "as_json", is_flag=True)
def users_add(tenant: str, email: str, password_stdin: bool, as_json: bool) -> None:
    """Add a portal user to TENANT; passwords have at least 12 characters (argon2-hashed)."""
    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def work(session: AsyncSession, _: Settings) -> tuple[Any, str]:
        return await portal.add_user(session, tenant, email, given)

    found, password = in_transaction(work)
    data = {"tenant": found.name, "email": email.strip().lower()}
    lines = [f"Portal user {data['email']} added to {found.name}."]
    if given is None:
        data["password"] = password
        lines.append(f"Password (shown once): {password}")
    show(data, as_json, lines)


@users_group.command("list")
@click.argument("tenant")
@click.option("--json", "as_json", is_flag=True)
def users_list(tenant: str, as_json: bool) -> None:
    """List TENANT's portal users (never their passwords)."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str | None]]:
        return [
            {
                "email": u.email,
                "createdOnUtc": u.created_at.isoformat(),
                "lastSignInOnUtc": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
                "lockedUntilUtc": u.locked_until.isoformat() if u.locked_until else None,
            }
            for u in await portal.list_users(session, tenant)
        ]

    rows = in_transaction(work)
    show(rows, as_json, [f"{r['email']}  last sign-in {r['lastSignInOnUtc']}" for r in rows])


@users_group.command("remove")
@click.argument("tenant")
@click.argument("email")
def users_remove(tenant: str, email: str) -> None:
    """Remove a portal user; their sessions end at once."""

    async def work(session: AsyncSession, _: Settings) -> None:
        await portal.remove_user(session, tenant, email)

    in_transaction(work)
    click.echo(f"removed portal user {email}")
