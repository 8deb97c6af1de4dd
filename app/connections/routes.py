"""HTTP for connections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.responses import Response

from app.connections import schemas, service
from app.connections.schemas import link_url, to_wire
from app.kit import querying
from app.kit.schemas import CompanyPath, ConnectionPath, PageQuery, page_meta
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Connections"
OPERATIONS = ClientOperations()


class ConnectionPageQuery(PageQuery):
    query: str | None = Field(
        default=None,
        description="Codat query string over id, status, integrationKey and created.",
        json_schema_extra={"pattern": querying.pattern("status|integrationKey", "id", "created")},
    )
    orderBy: Literal["created", "-created", "status", "-status"] | None = Field(
        default=None, description="Order by created or status; '-' for descending."
    )


ONE = "/companies/{companyId}/connections/{connectionId}"


@OPERATIONS.operation(
    "POST",
    "/companies/{companyId}/connections",
    params=CompanyPath,
    operation_id="create-connection",
    summary="Create connection",
    tag=TAG,
    body=schemas.CreateConnection,
    responses={200: schemas.Connection},
)
async def create_connection(
    call: ClientCall[CompanyPath, None, schemas.CreateConnection],
) -> schemas.Connection:
    """Creates a QuickBooks Online Bank Feeds connection (platformKey hcws). Its linkUrl
    carries a one-time password valid for 60 minutes."""
    connection = await service.create(call.session, call.principal, call.path.company_id, call.body)
    return await service.wire_with_fresh_link(call.session, call.services.settings, connection)


@OPERATIONS.operation(
    "GET",
    "/companies/{companyId}/connections",
    params=CompanyPath,
    operation_id="list-connections",
    summary="List connections",
    tag=TAG,
    query=ConnectionPageQuery,
    responses={200: schemas.Connections},
)
async def list_connections(
    call: ClientCall[CompanyPath, ConnectionPageQuery, None],
) -> schemas.Connections:
    """Lists a company's connections. linkUrl here carries no one-time password: get the
    connection itself for a fresh one."""
    q = call.query
    company_id = call.path.company_id
    rows, total = await service.page(call.session, call.principal, company_id, q)
    settings = call.services.settings
    results = [to_wire(c, link_url(settings, c, None)) for c in rows]
    path = f"/companies/{company_id}/connections"
    return schemas.Connections(results=results, **page_meta(path, q, total))


@OPERATIONS.operation(
    "GET",
    ONE,
    params=ConnectionPath,
    operation_id="get-connection",
    summary="Get connection",
    tag=TAG,
    responses={200: schemas.Connection},
)
async def get_connection(call: ClientCall[ConnectionPath, None, None]) -> schemas.Connection:
    """Returns the connection with a linkUrl carrying a fresh one-time password."""
    connection = await service.get(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )
    return await service.wire_with_fresh_link(call.session, call.services.settings, connection)


@OPERATIONS.operation(
    "PATCH",
    ONE,
    params=ConnectionPath,
    operation_id="unlink-connection",
    summary="Unlink connection",
    tag=TAG,
    body=schemas.UpdateConnection,
    responses={200: schemas.Connection},
)
async def unlink_connection(
    call: ClientCall[ConnectionPath, None, schemas.UpdateConnection],
) -> schemas.Connection:
    connection = await service.update(
        call.session,
        call.services.settings,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
        call.body,
    )
    return to_wire(connection, link_url(call.services.settings, connection, None))


@OPERATIONS.operation(
    "DELETE",
    ONE,
    params=ConnectionPath,
    operation_id="delete-connection",
    summary="Delete connection",
    tag=TAG,
    responses={200: None},
)
async def delete_connection(call: ClientCall[ConnectionPath, None, None]) -> Response:
    await service.delete(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )
    return Response(status_code=200)


@OPERATIONS.operation(
    "POST",
    f"{ONE}/bankFeeds/otp",
    params=ConnectionPath,
    operation_id="generate-otp",
    summary="Generate OTP",
    tag=TAG,
    responses={200: schemas.GenerateOtpResponse},
)
async def generate_otp(call: ClientCall[ConnectionPath, None, None]) -> schemas.GenerateOtpResponse:
    """A fresh one-time password for the connection's Link page (valid 60 minutes)."""
    connection = await service.get(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )
    otp, expiry = await service.issue_otp(call.session, call.services.settings, connection)
    return schemas.GenerateOtpResponse(otp=otp, expiry=expiry)
