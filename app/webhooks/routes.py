"""HTTP for webhook endpoints: an extension (Codat configures webhooks in its portal)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from app.kit.api import Result
from app.kit.services import Services
from app.tenants.auth import ClientCall, ClientOperations
from app.webhooks import egress, schemas, service

TAG = "Webhooks"
OPERATIONS = ClientOperations()


@dataclass(frozen=True, slots=True)
class EndpointPath:
    endpoint_id: str


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=2**31 - 1)
    pageSize: int = Field(default=100, ge=1, le=1000)


async def _check_first(request: Request, services: Services) -> None:
    """The URL's check (its DNS look-up) before the request's transaction: no connection or
    lock waits on a resolver. A body that is not valid is left to the handler to refuse."""
    try:
        url = str(schemas.CreateEndpoint.model_validate_json(await request.body()).url)
    except ValueError:  # pydantic's ValidationError included
        return
    policy = egress.Policy.of(services.settings)
    request.state.webhook_check = (url, await service.check_url(url, policy))


@OPERATIONS.operation(
    "POST",
    "/webhooks/endpoints",
    operation_id="create-webhook-endpoint",
    summary="Create a webhook endpoint (extension)",
    tag=TAG,
    body=schemas.CreateEndpoint,
    responses={201: schemas.CreatedEndpoint},
    errors=(400, 401),
    prepare=_check_first,
)
async def create_endpoint(call: ClientCall[None, None, schemas.CreateEndpoint]) -> Result:
    """Registers a URL for the tenant's events in this environment. The answer carries the
    endpoint's signing secret, shown this once; verify deliveries with any Standard Webhooks
    library. The URL must reach public addresses only (no loopback, private, link-local or
    other local address, no user name or password; https when the service runs on https):
    anything else is refused with 400. A name must resolve, to public addresses only; a look-up
    that cannot finish in time is 503 with Retry-After (retry later), worded like a refusal."""
    settings = call.services.settings
    created = await service.create(
        call.session,
        call.principal,
        call.body,
        egress.Policy.of(settings),
        settings.webhook_max_endpoints,
        getattr(call.request.state, "webhook_check", None),
    )
    return Result(created, 201)


@OPERATIONS.operation(
    "GET",
    "/webhooks/endpoints",
    operation_id="list-webhook-endpoints",
    summary="List webhook endpoints (extension)",
    tag=TAG,
    responses={200: schemas.Endpoints},
    errors=(401,),
)
async def list_endpoints(call: ClientCall[None, None, None]) -> schemas.Endpoints:
    rows = await service.endpoints(call.session, call.principal)
    return schemas.Endpoints(results=[service.to_wire(r) for r in rows])


@OPERATIONS.operation(
    "GET",
    "/webhooks/endpoints/{endpointId}",
    params=EndpointPath,
    operation_id="get-webhook-endpoint",
    summary="Get a webhook endpoint (extension)",
    tag=TAG,
    responses={200: schemas.Endpoint},
)
async def get_endpoint(call: ClientCall[EndpointPath, None, None]) -> schemas.Endpoint:
    return service.to_wire(await service.get(call.session, call.principal, call.path.endpoint_id))


@OPERATIONS.operation(
    "DELETE",
    "/webhooks/endpoints/{endpointId}",
    params=EndpointPath,
    operation_id="delete-webhook-endpoint",
    summary="Delete a webhook endpoint (extension)",
    tag=TAG,
    responses={204: None},
)
async def delete_endpoint(call: ClientCall[EndpointPath, None, None]) -> Response:
    """Stops all deliveries to the endpoint, pending ones included."""
    await service.delete(call.session, call.principal, call.path.endpoint_id)
    return Response(status_code=204)


@OPERATIONS.operation(
    "GET",
    "/webhooks/endpoints/{endpointId}/deliveries",
    params=EndpointPath,
    operation_id="list-webhook-deliveries",
    summary="List an endpoint's deliveries (extension)",
    tag=TAG,
    query=DeliveriesQuery,
    responses={200: schemas.Deliveries},
)
async def list_deliveries(
    call: ClientCall[EndpointPath, DeliveriesQuery, None],
) -> schemas.Deliveries:
    """Deliveries to the endpoint, newest first, each with every attempt made."""
    q = call.query
    return await service.deliveries(
        call.session, call.principal, call.path.endpoint_id, q.page, q.pageSize
    )
