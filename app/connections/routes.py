"""HTTP for connections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.responses import Response

from app import querying
from app.api import Call, client_api
from app.connections import schemas, service
from app.connections.schemas import link_url, to_wire
from app.schemas import PageQuery, page_meta

TAG = "Connections"


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


@client_api.operation(
    "POST",
    "/companies/{companyId}/connections",
    operation_id="create-connection",
    summary="Create connection",
    tag=TAG,
    body=schemas.CreateConnection,
    responses={200: schemas.Connection},
)
async def create_connection(call: Call[schemas.CreateConnection]) -> schemas.Connection:
    """Creates a QuickBooks Online Bank Feeds connection (platformKey hcws). Its linkUrl
    carries a one-time password valid for 60 minutes."""
    connection = await service.create(
        call.session, call.principal, call.path("companyId"), call.body
    )
    return await service.wire_with_fresh_link(call.session, call.services.settings, connection)


@client_api.operation(
    "GET",
    "/companies/{companyId}/connections",
    operation_id="list-connections",
    summary="List connections",
    tag=TAG,
    query=ConnectionPageQuery,
    responses={200: schemas.Connections},
)
async def list_connections(call: Call[None]) -> schemas.Connections:
    """Lists a company's connections. linkUrl here carries no one-time password: get the
    connection itself for a fresh one."""
    q: PageQuery = call.query
    company_id = call.path("companyId")
    rows, total = await service.page(call.session, call.principal, company_id, q)
    settings = call.services.settings
    results = [to_wire(c, link_url(settings, c, None)) for c in rows]
    path = f"/companies/{company_id}/connections"
    return schemas.Connections(results=results, **page_meta(path, q, total))


@client_api.operation(
    "GET",
    ONE,
    operation_id="get-connection",
    summary="Get connection",
    tag=TAG,
    responses={200: schemas.Connection},
)
async def get_connection(call: Call[None]) -> schemas.Connection:
    """Returns the connection with a linkUrl carrying a fresh one-time password."""
    connection = await service.get(
        call.session, call.principal, call.path("companyId"), call.path("connectionId")
    )
    return await service.wire_with_fresh_link(call.session, call.services.settings, connection)


@client_api.operation(
    "PATCH",
    ONE,
    operation_id="unlink-connection",
    summary="Unlink connection",
    tag=TAG,
    body=schemas.UpdateConnection,
    responses={200: schemas.Connection},
)
async def unlink_connection(call: Call[schemas.UpdateConnection]) -> schemas.Connection:
    connection = await service.update(
        call.session,
        call.services.settings,
        call.principal,
        call.path("companyId"),
        call.path("connectionId"),
        call.body,
    )
    return to_wire(connection, link_url(call.services.settings, connection, None))


@client_api.operation(
    "DELETE",
    ONE,
    operation_id="delete-connection",
    summary="Delete connection",
    tag=TAG,
    responses={200: None},
)
async def delete_connection(call: Call[None]) -> Response:
    await service.delete(
        call.session, call.principal, call.path("companyId"), call.path("connectionId")
    )
    return Response(status_code=200)


@client_api.operation(
    "POST",
    f"{ONE}/bankFeeds/otp",
    operation_id="generate-otp",
    summary="Generate OTP",
    tag=TAG,
    responses={200: schemas.GenerateOtpResponse},
)
async def generate_otp(call: Call[None]) -> schemas.GenerateOtpResponse:
    """A fresh one-time password for the connection's Link page (valid 60 minutes)."""
    connection = await service.get(
        call.session, call.principal, call.path("companyId"), call.path("connectionId")
    )
    otp, expiry = await service.issue_otp(call.session, call.services.settings, connection)
    return schemas.GenerateOtpResponse(otp=otp, expiry=expiry)
