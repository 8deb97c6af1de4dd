"""`app.db.Direct`: a statement of every push run straight on asyncpg (on PostgreSQL) answers
exactly as SQLAlchemy does, literals and parameters included, and a lost server connection
surfaces as SQLAlchemy's own OperationalError with the pooled connection thrown away."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import Direct, make_engine, make_sessionmaker
from app.kit.principal import Principal
from app.tenants.tables import ApiKey, Tenant
from app.transactions import repository
from app.transactions.rules import Accepted
from app.transactions.tables import BankTransaction, PushOperation
from tests.feeds import connect
from tests.helpers import ON_POSTGRES, Linkable, TenantKeys

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


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL (DATABASE_URL)")
async def test_a_lost_connection_is_sqlalchemys_error_and_leaves_the_pool(
    settings: Settings, tenant: TenantKeys
) -> None:
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


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL (DATABASE_URL)")
async def test_a_push_target_read_first_holds_its_lock_until_the_commit(
    sessions: async_sessionmaker[AsyncSession], linkable: Linkable, tenant: TenantKeys
) -> None:
    """The push's first statements run on the driver: they must still be inside the request's
    transaction (SQLAlchemy's adapter begins it only before a statement of its own), or the
    account lock would end with the statement and two pushes could judge the same account at
    once."""
    await connect(linkable)
    principal = Principal(uuid.UUID(tenant.id), "production")
    company, connection = uuid.UUID(linkable.company["id"]), uuid.UUID(linkable.connection["id"])
    lock = text("SELECT pk FROM source_accounts WHERE pk = :pk FOR UPDATE NOWAIT")
    async with sessions() as session, session.begin():
        target = await repository.push_target(
            session, principal, company, connection, "chk-1", datetime.now(UTC)
        )
        assert target is not None
        raw = await (await session.connection()).get_raw_connection()
        assert raw.driver_connection.is_in_transaction()
        async with sessions() as other, other.begin():
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(lock, {"pk": target.account.pk})
    async with sessions() as other, other.begin():  # committed: the lock is gone
        assert (await other.execute(lock, {"pk": target.account.pk})).scalar_one()


async def test_the_push_write_is_undone_with_its_request(
    sessions: async_sessionmaker[AsyncSession], linkable: Linkable, tenant: TenantKeys
) -> None:
    """A push's rows written on the driver roll back with the request's transaction."""
    await connect(linkable)
    principal = Principal(uuid.UUID(tenant.id), "production")
    company, connection = uuid.UUID(linkable.company["id"]), uuid.UUID(linkable.connection["id"])
    now = datetime.now(UTC)

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with sessions() as session, session.begin():
            target = await repository.push_target(
                session, principal, company, connection, "chk-1", now
            )
            assert target is not None
            op = PushOperation(
                key=uuid.uuid4(),
                company_id=company,
                connection_id=connection,
                account_pk=target.account.pk,
                account_id="chk-1",
                status="Pending",
                status_code=202,
                transaction_count=1,
                requested_at=now,
                warnings=[],
            )
            item = Accepted("undone-1", now.date(), "Rolled back", Decimal("-1.00"), None, None, "")
            await repository.store_push(session, op, [item], {"latest_cleared_on": now.date()})
            raise Undo
    async with sessions() as session:
        stored = await session.execute(
            select(BankTransaction.id).where(BankTransaction.transaction_id == "undone-1")
        )
        assert stored.first() is None
