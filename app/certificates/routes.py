"""HTTP for balance certificates (extensions): the bank's daily figures, the certificates and
their export, and the tenant's strict mode."""

from __future__ import annotations

import json

from starlette.responses import Response

from app.certificates import schemas, service
from app.kit.schemas import AccountPath
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Balance certificates"
ACCOUNT = (
    "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/{accountId}"
)
OPERATIONS = ClientOperations()


def _ids(path: AccountPath | schemas.DayPath) -> tuple[str, str, str]:
    return path.company_id, path.connection_id, path.account_id


@OPERATIONS.operation(
    "POST",
    f"{ACCOUNT}/balances",
    params=AccountPath,
    operation_id="create-source-account-balances",
    summary="Give the bank's end-of-day balances (extension)",
    tag=TAG,
    body=schemas.BalancesBody,
    parser=schemas.BalancesRequest.model_validate,
    responses={200: schemas.BalancesResponse},
)
async def post_balances(
    call: ClientCall[AccountPath, None, schemas.BalancesRequest],
) -> schemas.BalancesResponse:
    """Extension: the bank's closing (and available) balance per day, for banks that report
    them apart from lines. Each item's result is created, replaced (audited) or unchanged; a bad
    item is named and then nothing is stored. The account's certificates are brought up to
    date at once."""
    return await service.post_balances(call.session, call.principal, *_ids(call.path), call.body)


@OPERATIONS.operation(
    "GET",
    f"{ACCOUNT}/balanceCertificates",
    params=AccountPath,
    query=schemas.CertificatesQuery,
    operation_id="list-balance-certificates",
    summary="An account's daily balance certificates (extension)",
    tag=TAG,
    responses={200: schemas.Certificates},
)
async def list_certificates(
    call: ClientCall[AccountPath, schemas.CertificatesQuery, None],
) -> schemas.Certificates | Response:
    """Extension: the current revision of each day in [from, to], oldest first, paged. With
    `format=json` or `format=csv`: every revision with the current days' lines, for an auditor
    (`bankfeeds certificates verify FILE` checks it offline)."""
    if call.query.format in ("json", "csv"):
        document = await service.export(call.session, call.principal, *_ids(call.path))
        name = f"balance-certificates-{document['accountId']}.{call.query.format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if call.query.format == "csv":
            return Response(
                service.export_csv(document), media_type="text/csv; charset=utf-8", headers=headers
            )
        body = json.dumps(document, ensure_ascii=False, indent=1)
        return Response(body, media_type="application/json", headers=headers)
    return await service.list_certificates(
        call.session, call.principal, *_ids(call.path), call.query
    )


@OPERATIONS.operation(
    "GET",
    f"{ACCOUNT}/balanceCertificates/{{date}}",
    params=schemas.DayPath,
    operation_id="get-balance-certificate",
    summary="One day's balance certificate with its lines (extension)",
    tag=TAG,
    responses={200: schemas.CertificateDay},
)
async def get_certificate(
    call: ClientCall[schemas.DayPath, None, None],
) -> schemas.CertificateDay:
    """Extension: the day's current certificate, its lines in digest order, and every revision."""
    return await service.certificate_day(
        call.session, call.principal, *_ids(call.path), call.path.date
    )


@OPERATIONS.operation(
    "GET",
    "/settings/balances",
    operation_id="get-balance-settings",
    summary="Get balance certificate settings (extension)",
    tag=TAG,
    responses={200: schemas.BalanceSettings},
    errors=(401,),
)
async def get_settings(call: ClientCall[None, None, None]) -> schemas.BalanceSettings:
    return await service.settings_of(call.session, call.principal)


@OPERATIONS.operation(
    "PUT",
    "/settings/balances",
    operation_id="replace-balance-settings",
    summary="Set strict balance mode (extension)",
    tag=TAG,
    body=schemas.BalanceSettingsIn,
    responses={200: schemas.BalanceSettings},
    errors=(400, 401),
)
async def put_settings(
    call: ClientCall[None, None, schemas.BalanceSettingsIn],
) -> schemas.BalanceSettings:
    """`strict: true` refuses a push whose line balances break the running balance (the
    validation error names the first such item); off by default, when certificates only warn."""
    return await service.set_settings(call.session, call.principal, call.body.strict)
