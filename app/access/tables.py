"""The access log: who read or exported a company's data, kept by the audit policy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class AccessEntry(Base):
    """Someone read or exported a company's data: a portal user (by email) or an API key (by
    its prefix). The company id is kept without a foreign key: the log outlives the company."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    environment: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(16))  # staff | api_key
    actor: Mapped[str] = mapped_column(String(300))  # the staff email, or the key's prefix
    action: Mapped[str] = mapped_column(String(16))  # view | export | read_lines
    route: Mapped[str] = mapped_column(String(300))
    company_id: Mapped[uuid.UUID] = mapped_column()

    __table_args__ = (Index("ix_access_log_tenant_at", "tenant_id", "at"),)
