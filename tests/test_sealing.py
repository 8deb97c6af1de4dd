"""Account numbers are sealed at rest like webhook secrets, unsealed only to answer; a key
rotation (`bankfeeds secrets rotate`) re-seals every sealed value under the newest key, after
which the old key can be dropped with everything still readable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import vault
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.connections.tables import Connection
from app.sealing.jobs import reseal
from app.webhooks.tables import WebhookEndpoint
from tests.helpers.builders import TenantKeys, v1_account, v2_account
from tests.helpers.clients import Api


def keyed(settings: Settings, *keys: str) -> Settings:
    return settings.model_copy(update={"secret_keys": SecretStr(",".join(keys))})


@pytest.fixture
def old_key(settings: Settings) -> Iterator[str]:
    key = Fernet.generate_key().decode()
    vault.configure(keyed(settings, key))
    try:
        yield key
    finally:
        vault.configure(settings)


async def _raw_numbers(sessions: Any, company_id: str) -> list[str]:
    async with sessions() as session:
        stmt = (
            select(SourceAccount.account_number)
            .join(Connection, Connection.id == SourceAccount.connection_id)
            .where(Connection.company_id == uuid.UUID(company_id))
            .order_by(SourceAccount.account_id)
        )
        return [str(v) for v in (await session.execute(stmt)).scalars()]


async def _raw_secret(sessions: Any, tenant: TenantKeys) -> str:
    async with sessions() as session:
        stmt = select(WebhookEndpoint.secret).where(
            WebhookEndpoint.tenant_id == uuid.UUID(tenant.id)
        )
        return str((await session.execute(stmt)).scalar_one())


async def _answered_numbers(api: Api, path: str) -> list[str]:
    listed = (await api.call("GET", path)).json()
    return sorted(a["accountNumber"] for a in listed)


async def test_account_numbers_are_sealed_and_a_rotation_reseals_everything(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    old_key: str,
) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    path = (
        f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts"
    )
    r = await api.call("POST", f"{path}/batch", [v1_account("chk-1"), v2_account("sav-2")])
    assert r.status_code == 201, r.text
    hook = await api.call("POST", "/webhooks/endpoints", {"url": "https://hooks.example.test/s"})
    secret = hook.json()["secret"]

    raw = await _raw_numbers(sessions, company["id"])
    assert all(v.startswith("fernet:") for v in raw), "sealed at rest"
    assert not any(n in " ".join(raw) for n in ("12345670", "23456789"))
    assert await _answered_numbers(api, path) == ["12345670", "23456789"], "unsealed to answer"
    r = await api.call("PATCH", f"{path}/chk-1", {"accountNumber": "12345670"})
    assert r.status_code == 200, "the same number is no change"

    # A new key goes in front; the rotation re-seals every value of this tenant under it.
    new_key = Fernet.generate_key().decode()
    both = keyed(settings, new_key, old_key)
    vault.configure(both)
    counts = await reseal(sessions, both, uuid.UUID(tenant.id))
    assert counts["account_numbersResealed"] == 2 and counts["webhook_secretsResealed"] == 1
    again = await reseal(sessions, both, uuid.UUID(tenant.id))
    assert again["account_numbersResealed"] == 0 and again["account_numbersKept"] == 2

    # The old key is dropped: everything still reads, with the new key alone.
    vault.configure(keyed(settings, new_key))
    assert await _answered_numbers(api, path) == ["12345670", "23456789"]
    newest = Fernet(new_key.encode())
    for value in [
        *await _raw_numbers(sessions, company["id"]),
        await _raw_secret(sessions, tenant),
    ]:
        newest.decrypt(value[len("fernet:") :].encode())
    assert vault.unseal(await _raw_secret(sessions, tenant)) == secret
    assert raw != await _raw_numbers(sessions, company["id"]), "rewritten under the new key"

    # Without the rotation the old values would be unreadable now: the test can fail.
    with pytest.raises(vault.SecretUnreadable):
        vault.unseal(raw[0])
    # Sealed under a key that dies with this test: gone, so no later job trips on them.
    assert (await api.call("DELETE", f"/companies/{company['id']}")).status_code == 204
    endpoint = hook.json()["id"]
    assert (await api.call("DELETE", f"/webhooks/endpoints/{endpoint}")).status_code in (200, 204)


async def test_rotation_seals_values_stored_in_the_clear(
    api: Api, tenant: TenantKeys, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    path = await api.accounts_path()
    assert (await api.call("POST", path, v1_account("chk-9"))).status_code == 200
    company_id = path.split("/")[2]
    assert await _raw_numbers(sessions, company_id) == ["12345670"], "no key: as given"
    key = Fernet.generate_key().decode()
    counts = await reseal(sessions, keyed(settings, key), uuid.UUID(tenant.id))
    assert counts["account_numbersResealed"] == 1
    stored = (await _raw_numbers(sessions, company_id))[0]
    try:
        assert stored.startswith("fernet:")
        vault.configure(keyed(settings, key))
        assert await _answered_numbers(api, path) == ["12345670"]
    finally:
        vault.configure(settings)
        # Back in the clear: the shared test database is read without keys by other tests.
        async with sessions() as session, session.begin():
            clear = "UPDATE source_accounts SET account_number = '12345670' WHERE "
            await session.execute(text(clear + "account_number = :v"), {"v": stored})
