"""`app.db.Direct`: a statement of every push run straight on asyncpg (on PostgreSQL) answers
exactly as SQLAlchemy does, literals and parameters included, and a lost server connection
surfaces as SQLAlchemy's own OperationalError with the pooled connection thrown away."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import Direct, make_engine, make_sessionmaker
from app.tenants.tables import ApiKey, Tenant
from tests.helpers import TenantKeys

# A literal ('production') next to a parameter, a join and an id: what the push's own carry.
_KEYS = (
    select(Tenant.id, Tenant.name, ApiKey.environment)
    .join(ApiKey, ApiKey.tenant_id == Tenant.id)
    .where(
        Tenant.id == bindparam("tenant_id"),
        ApiKey.environment == "production",
        ApiKey.revoked_at.is_(None),
    )
)
KEYS = Direct(_KEYS)


async def test_direct_answers_as_sqlalchemy_does(
    sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    tenant_id = uuid.UUID(tenant.id)
    async with sessions() as session, session.begin():
        expected = (await session.execute(_KEYS, {"tenant_id": tenant_id})).first()
        got = await KEYS.first(session, {"tenant_id": tenant_id})
        nothing = await KEYS.first(session, {"tenant_id": uuid.uuid4()})
    assert expected is not None and got is not None
    assert tuple(got) == tuple(expected)
    assert got[0] == tenant_id and isinstance(got[0], uuid.UUID)
    assert nothing is None


async def test_a_lost_connection_is_sqlalchemys_error_and_leaves_the_pool(
    settings: Settings, tenant: TenantKeys
) -> None:
    if not settings.database_url:
        pytest.skip("the driver path is PostgreSQL's (SQLite runs through the session)")
    engine = make_engine(settings.model_copy(update={"db_pool_size": 1}))
    sessions = make_sessionmaker(engine)
    params = {"tenant_id": uuid.UUID(tenant.id)}
    try:
        with pytest.raises(OperationalError) as raised:
            async with sessions() as session, session.begin():
                # The server goes away after the transaction began (SQLAlchemy's BEGIN sees a
                # connection that was already dead; this is the driver's own statement).
                pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                async with engine.connect() as other:  # an overflow connection ends the first
                    await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await KEYS.first(session, params)
        assert raised.value.connection_invalidated
        assert raised.value.params is None  # parameters (a key's hash, say) are never shown
        # The dead connection was dropped: the next request runs on a new one.
        async with sessions() as session, session.begin():
            assert await KEYS.first(session, params) is not None
    finally:
        await engine.dispose()
