"""HTTP for a company's export (extension): streamed, in its own read transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from app.access import service as access
from app.companies import service as companies
from app.db import transaction
from app.exports import service
from app.kit.schemas import CompanyPath
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Retention"
OPERATIONS = ClientOperations()


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "csv"] = Field(
        default="json", description="json: the whole document; csv: one table (see `table`)."
    )
    table: Literal[service.TABLES] | None = Field(  # type: ignore[valid-type]
        default=None, description="With format=csv: which table (lines, accounts, ...)."
    )


@OPERATIONS.operation(
    "GET",
    "/companies/{companyId}/export",
    params=CompanyPath,
    query=ExportQuery,
    operation_id="export-company",
    summary="Export a company's data (extension)",
    tag=TAG,
    responses={200: None},
)
async def export_company(call: ClientCall[CompanyPath, ExportQuery, None]) -> StreamingResponse:
    """Extension: everything kept about the company in one versioned JSON document
    (`bankfeeds.company-export`, docs/COMPLIANCE.md): the company, its connections, accounts,
    lines with their delivery state, push operations and audit entries; or one table as CSV
    (`format=csv&table=lines`). Streamed; the access log records it."""
    company = await companies.get(call.session, call.principal, call.path.company_id)
    table = call.query.table or ("lines" if call.query.format == "csv" else None)
    await access.record_access(
        call.session,
        call.principal.tenant_id,
        call.principal.environment,
        company.id,
        actor_kind="api_key",
        actor=call.principal.key_prefix,
        action="export",
        route=call.request.url.path,
    )
    sessions = call.services.sessions
    company_id = company.id

    async def body() -> AsyncIterator[bytes]:
        async with transaction(sessions) as session:
            if table is None:
                async for chunk in service.json_chunks(session, company_id):
                    yield chunk
            else:
                async for chunk in service.csv_chunks(session, company_id, table):
                    yield chunk

    if table is None:
        media, name = "application/json", f"company-{company_id}.json"
    else:
        media, name = "text/csv; charset=utf-8", f"company-{company_id}-{table}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type=media, headers=headers)
