"""HTTP for retention (extensions): the tenant's policy and its destruction log."""

from __future__ import annotations

from app.retention import repository, schemas, service
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Retention"
OPERATIONS = ClientOperations()


@OPERATIONS.operation(
    "GET",
    "/retention",
    operation_id="get-retention-policy",
    summary="Get the retention policy (extension)",
    tag=TAG,
    responses={200: schemas.RetentionPolicy},
)
async def get_policy(call: ClientCall[None, None, None]) -> schemas.RetentionPolicy:
    """Extension: how many days each kind of record is kept before `purge-retention` destroys it
    (the tenant's overrides, else the defaults)."""
    return await service.to_wire(call.session, call.principal.tenant_id, call.services.settings)


@OPERATIONS.operation(
    "PATCH",
    "/retention",
    operation_id="update-retention-policy",
    summary="Update the retention policy (extension)",
    tag=TAG,
    body=schemas.RetentionPolicyUpdate,
    responses={200: schemas.RetentionPolicy},
)
async def update_policy(
    call: ClientCall[None, None, schemas.RetentionPolicyUpdate],
) -> schemas.RetentionPolicy:
    """Extension: override days per kind (1 to 36500); null puts a kind back to its default.
    The policy is the tenant's, for both environments."""
    changes = call.body.model_dump(exclude_unset=True)
    return await service.update(
        call.session, call.principal.tenant_id, call.services.settings, changes
    )


@OPERATIONS.operation(
    "GET",
    "/retention/destructions",
    operation_id="list-destructions",
    summary="List the destruction log (extension)",
    tag=TAG,
    responses={200: schemas.Destructions},
)
async def list_destructions(call: ClientCall[None, None, None]) -> schemas.Destructions:
    """Extension: the latest 200 entries of what the retention purge and deletions destroyed:
    policy, table, rows, the destroyed rows' date range, when. Never what the rows said."""
    rows = await repository.destruction_log(call.session, call.principal.tenant_id)
    return schemas.Destructions(results=[schemas.destruction_to_wire(r) for r in rows])
