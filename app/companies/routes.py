"""HTTP for companies: parse, call the service, render."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.responses import Response

from app.companies import schemas, service
from app.kit import querying
from app.kit.schemas import CompanyPath, PageQuery, page_meta
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Companies"
OPERATIONS = ClientOperations()


class CompanyPageQuery(PageQuery):
    query: str | None = Field(
        default=None,
        description="Codat query string over name, description, tags.<name>, id and created.",
        json_schema_extra={
            "pattern": querying.pattern(r"name|description|tags\.[A-Za-z0-9.]+", "id", "created")
        },
    )
    tags: str | None = Field(
        default=None,
        description="Filter by tags, e.g. region=us && team=x",
        json_schema_extra={"pattern": querying.pattern("[A-Za-z0-9.]+", blank="")},
    )
    orderBy: Literal["name", "-name", "created", "-created"] | None = Field(
        default=None, description="Order by name or created; '-' for descending."
    )


@OPERATIONS.operation(
    "POST",
    "/companies",
    operation_id="create-company",
    summary="Create company",
    tag=TAG,
    body=schemas.CompanyRequestBody,
    responses={200: schemas.Company},
)
async def create_company(
    call: ClientCall[None, None, schemas.CompanyRequestBody],
) -> schemas.Company:
    company = await service.create(call.session, call.principal, call.body)
    return await service.wire_with_fresh_redirect(
        call.session, call.services.settings, call.principal, company
    )


@OPERATIONS.operation(
    "GET",
    "/companies",
    operation_id="list-companies",
    summary="List companies",
    tag=TAG,
    query=CompanyPageQuery,
    responses={200: schemas.Companies},
)
async def list_companies(call: ClientCall[None, CompanyPageQuery, None]) -> schemas.Companies:
    q = call.query
    rows, total = await service.page(call.session, call.principal, q, q.tags)
    results = await service.to_wire(call.session, call.services.settings, call.principal, rows)
    return schemas.Companies(results=results, **page_meta("/companies", q, total))


@OPERATIONS.operation(
    "GET",
    "/companies/{companyId}",
    params=CompanyPath,
    operation_id="get-company",
    summary="Get company",
    tag=TAG,
    responses={200: schemas.Company},
)
async def get_company(call: ClientCall[CompanyPath, None, None]) -> schemas.Company:
    company = await service.get(call.session, call.principal, call.path.company_id)
    return await service.wire_with_fresh_redirect(
        call.session, call.services.settings, call.principal, company
    )


@OPERATIONS.operation(
    "PUT",
    "/companies/{companyId}",
    params=CompanyPath,
    operation_id="replace-company",
    summary="Replace company",
    tag=TAG,
    body=schemas.CompanyRequestBody,
    responses={200: schemas.Company},
)
async def replace_company(
    call: ClientCall[CompanyPath, None, schemas.CompanyRequestBody],
) -> schemas.Company:
    company = await service.replace(call.session, call.principal, call.path.company_id, call.body)
    return (await service.to_wire(call.session, call.services.settings, call.principal, [company]))[
        0
    ]


@OPERATIONS.operation(
    "PATCH",
    "/companies/{companyId}",
    params=CompanyPath,
    operation_id="update-company",
    summary="Update company",
    tag=TAG,
    body=schemas.CompanyUpdateRequest,
    responses={200: schemas.Company},
)
async def update_company(
    call: ClientCall[CompanyPath, None, schemas.CompanyUpdateRequest],
) -> schemas.Company:
    company = await service.update(call.session, call.principal, call.path.company_id, call.body)
    return (await service.to_wire(call.session, call.services.settings, call.principal, [company]))[
        0
    ]


@OPERATIONS.operation(
    "DELETE",
    "/companies/{companyId}",
    params=CompanyPath,
    operation_id="delete-company",
    summary="Delete a company",
    tag=TAG,
    responses={204: None},
)
async def delete_company(call: ClientCall[CompanyPath, None, None]) -> Response:
    await service.delete(call.session, call.principal, call.path.company_id)
    return Response(status_code=204)
