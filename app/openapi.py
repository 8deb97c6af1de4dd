"""/openapi.json, generated from the operation table and the very pydantic types routes use."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from app.accounts.schemas import ACCOUNT_ID
from app.kit.api import Api
from app.kit.inputs import path_names
from app.kit.schemas import NO_NUL, ErrorMessage


class Generator(GenerateJsonSchema):
    """Input strings say what api.py enforces for all of them: no NUL character."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        out = super().str_schema(schema)
        if self.mode == "validation" and "pattern" not in out and "format" not in out:
            out["pattern"] = NO_NUL
        return out


REF = "#/components/schemas/{model}"
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "companyId": {
        "type": "string",
        "format": "uuid",
        "description": "Unique identifier for a company.",
    },
    "connectionId": {
        "type": "string",
        "format": "uuid",
        "description": "Unique identifier for a connection.",
    },
    "accountId": {
        "type": "string",
        "pattern": ACCOUNT_ID,
        "description": "Unique identifier for a source account.",
    },
    "pushOperationKey": {"type": "string", "format": "uuid", "description": "Push operation key."},
    "date": {"type": "string", "format": "date", "description": "A day (YYYY-MM-DD)."},
    "endpointId": {"type": "string", "format": "uuid", "description": "Webhook endpoint id."},
    "pendingTransactionId": {"type": "string", "description": "A pending transaction's id."},
    "transactionId": {"type": "string", "description": "A bank transaction's id."},
}
ERROR_TEXT = {
    400: "The request made is not valid.",
    401: "Your API request was not properly authorized.",
    404: "One or more of the resources you referenced could not be found.",
    409: "Conflict with stored data.",
    413: "The request body is larger than the service accepts.",
    415: "The request body is not JSON.",
    422: "The request could not be processed.",
    429: "Too many requests; see Retry-After.",
    500: "There is a problem with our server.",
    503: "The service is temporarily unavailable.",
}
ALWAYS = (429, 500, 503)
# Sent on every answer to an authenticated client-API request (app/kit/ratelimit.py); not when Redis
# is down (the limits then fail open) nor before the caller is known (401).
RATE_LIMIT_HEADERS = {
    "X-Rate-Limit-Limit": "Requests the tenant may make per UTC day.",
    "X-Rate-Limit-Remaining": "Requests left today.",
    "X-Rate-Limit-Reset": "When the daily quota resets: a Unix time (the next 00:00 UTC).",
}
HEADERS: dict[str, Any] = {
    name: {"description": text, "schema": {"type": "integer", "minimum": 0}}
    for name, text in RATE_LIMIT_HEADERS.items()
}
HEADERS["Retry-After"] = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def build(apis: list[Api[Any]], *, title: str, version: str) -> dict[str, Any]:
    operations = [op for api in apis for op in api.operations]
    inputs: list[tuple[Any, Any, Any]] = [
        (("error",), "serialization", TypeAdapter(ErrorMessage).core_schema)
    ]
    for op in operations:
        if op.body is not None and not op.raw_types:
            inputs.append(((op.operation_id, "body"), "validation", op.body_adapter.core_schema))
        for status, adapter in op.response_adapters.items():
            if adapter is not None:
                inputs.append(((op.operation_id, status), "serialization", adapter.core_schema))
    generator = Generator(ref_template=REF)
    mapping: dict[Any, Any]
    mapping, definitions = generator.generate_definitions(inputs=inputs)
    error_ref = mapping[(("error",), "serialization")]

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "security": [{"basic_credentials": [], "partner_key": []}]
            if op.security == "idx"
            else [{"auth_header": []}],
        }
        if op.description:
            item["description"] = op.description
        params = [
            {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
            for name in path_names(op.path)
        ]
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template=REF, schema_generator=Generator)
            for name, prop in schema.get("properties", {}).items():
                description = prop.pop("description", None)
                prop.pop("title", None)
                param: dict[str, Any] = {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": prop,
                }
                if description:
                    param["description"] = description
                params.append(param)
        if params:
            item["parameters"] = params
        if op.raw_types:
            binary = {"schema": {"type": "string", "format": "binary"}}
            item["requestBody"] = {"required": True, "content": {t: binary for t in op.raw_types}}
        elif op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": mapping[((op.operation_id, "body"), "validation")]
                    }
                },
            }
        responses: dict[str, Any] = {}
        for status, adapter in op.response_adapters.items():
            entry: dict[str, Any] = {"description": "Success" if status < 300 else "Result"}
            if adapter is not None:
                key: Any = ((op.operation_id, status), "serialization")
                entry["content"] = {"application/json": {"schema": mapping[key]}}
            responses[str(status)] = entry
        extra = {413, 415} if op.body is not None else set()
        for status in sorted({*op.errors, *extra, *ALWAYS} - set(op.responses)):
            responses[str(status)] = {
                "description": ERROR_TEXT[status],
                "content": {"application/json": {"schema": error_ref}},
            }
        for code, entry in responses.items():
            names = [*RATE_LIMIT_HEADERS] if op.security == "auth_header" else []
            if code == "429":
                names.append("Retry-After")
            if names:
                entry["headers"] = {n: {"$ref": f"#/components/headers/{n}"} for n in names}
        item["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = item

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Codat-compatible Bank Feeds API for QuickBooks Online (US and Canada).",
        },
        "servers": [{"url": "/"}],
        "security": [{"auth_header": []}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "headers": HEADERS,
            "securitySchemes": {
                "auth_header": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The word Basic, a space, and base64(API_KEY).",
                },
                "basic_credentials": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "IDX: one-time credentials, Basic base64(username:password).",
                },
                "partner_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Partner-Key",
                    "description": "IDX: base64 of the tenant's partner key for the environment.",
                },
            },
        },
    }
