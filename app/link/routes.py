"""HTTP for the client's Link branding API (extensions): the callout, accent colour and logo
the SMB's Link pages show (those pages are `link/pages.py`)."""

from __future__ import annotations

from app.link import schemas, service
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Link settings"
OPERATIONS = ClientOperations()


@OPERATIONS.operation(
    "GET",
    "/settings/link",
    operation_id="get-link-settings",
    summary="Get Link page settings (extension)",
    tag=TAG,
    responses={200: schemas.LinkSettingsOut},
    errors=(401,),
)
async def get_settings(call: ClientCall[None, None, None]) -> schemas.LinkSettingsOut:
    return service.to_wire(await service.current(call.session, call.principal))


@OPERATIONS.operation(
    "PUT",
    "/settings/link",
    operation_id="replace-link-settings",
    summary="Replace Link page settings (extension)",
    tag=TAG,
    body=schemas.LinkSettingsBody,
    responses={200: schemas.LinkSettingsOut},
    errors=(400, 401),
)
async def put_settings(
    call: ClientCall[None, None, schemas.LinkSettingsBody],
) -> schemas.LinkSettingsOut:
    """The callout shown on the Link page (English required, French optional and falling back
    to English; title ≤ 50 and body ≤ 150 characters of plain text) and the accent colour."""
    return service.to_wire(await service.replace(call.session, call.principal, call.body))


@OPERATIONS.operation(
    "PUT",
    "/settings/link/logo",
    operation_id="replace-link-logo",
    summary="Upload the Link page logo (extension)",
    tag=TAG,
    body=bytes,
    raw_types=("image/png", "image/jpeg"),
    responses={200: schemas.LinkSettingsOut},
    errors=(400, 401, 413, 415),
)
async def put_logo(call: ClientCall[None, None, bytes]) -> schemas.LinkSettingsOut:
    """A PNG or JPEG (checked by its bytes, not its name or header), at most 256 KiB by default;
    SVG and anything else answer 415."""
    row = await service.set_logo(call.session, call.services.settings, call.principal, call.body)
    return service.to_wire(row)
