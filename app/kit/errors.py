"""Errors carry their HTTP status; one handler renders them as Codat's ErrorMessage body."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from app.kit.schemas import ErrorMessage, ErrorValidation, ErrorValidationItem
from app.logs import correlation_id

log = logging.getLogger("app.kit.errors")


class ApiError(Exception):
    status = 500
    can_be_retried = "Unknown"
    default_message = "There is a problem with our server. Please try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Iterable[ErrorValidationItem] = (),
        warnings: Iterable[ErrorValidationItem] = (),
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = list(errors)
        self.warnings = list(warnings)
        if retry is not None:
            self.can_be_retried = "True" if retry else "False"
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status = 400
    can_be_retried = "False"
    default_message = "Error processing request - not valid."


class Unauthorized(ApiError):
    status = 401
    can_be_retried = "False"
    default_message = "Unauthorized"


class NotFound(ApiError):
    status = 404
    can_be_retried = "False"
    default_message = "Not found"


class MethodNotAllowed(ApiError):
    status = 405
    can_be_retried = "False"
    default_message = "Method not allowed"


class Conflict(ApiError):
    status = 409
    can_be_retried = "False"
    default_message = "Conflict"


class RequestTimeout(ApiError):
    status = 408
    can_be_retried = "True"
    default_message = "The request body did not arrive in time."


class PayloadTooLarge(ApiError):
    status = 413
    can_be_retried = "False"
    default_message = "Request body too large"


class UnsupportedMediaType(ApiError):
    status = 415
    can_be_retried = "False"
    default_message = "Unsupported media type"


class Unprocessable(ApiError):
    status = 422
    can_be_retried = "False"
    default_message = "The request could not be processed"


class TooManyRequests(ApiError):
    status = 429
    can_be_retried = "True"
    default_message = (
        "You have made too many requests in a given amount of time; please retry later."
    )

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(ApiError):
    status = 503
    can_be_retried = "True"
    default_message = "The service is temporarily unavailable. Please try again later."


def validation_items(
    exc: ValidationError, prefix: tuple[Any, ...] = ()
) -> list[ErrorValidationItem]:
    """Pydantic errors as ErrorMessage items: itemId is the JSON path, validatorName the check."""
    items = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = prefix + tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "body"
        items.append(
            ErrorValidationItem(
                itemId=path, message=f"{path}: {err['msg']}", validatorName=err["type"]
            )
        )
    return items


def error_body(exc: ApiError) -> ErrorMessage:
    validation = (
        ErrorValidation(errors=exc.errors, warnings=exc.warnings)
        if exc.errors or exc.warnings
        else None
    )
    return ErrorMessage(
        statusCode=exc.status,
        service="PublicApi",
        error=exc.message,
        correlationId=correlation_id.get(),
        validation=validation,
        canBeRetried=exc.can_be_retried,
        detailedErrorCode=0,
    )


def render(exc: ApiError) -> Response:
    body = error_body(exc).model_dump_json(by_alias=True)
    return Response(
        body, status_code=exc.status, media_type="application/json", headers=exc.headers
    )


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status >= 500:
        log.error("request failed: %s", exc.message)
    else:
        log.info("request rejected: %s %s", exc.status, exc.message)
    return render(exc)


_OURS = str(Path(__file__).resolve().parents[1])  # app/


def where(exc: BaseException) -> str:
    """The innermost frame of our own code (and of all code) as file:line, so an operator can
    find the fault without a traceback: tracebacks and SQL can carry secrets, so neither is logged.
    """
    tb, ours, last = exc.__traceback__, None, None
    while tb is not None:
        last = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        if tb.tb_frame.f_code.co_filename.startswith(_OURS):
            ours = last
        tb = tb.tb_next
    return f"{ours} (raised at {last})" if ours and ours != last else last or "?"


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled %s at %s", type(exc).__name__, where(exc))
    return render(ApiError())
