"""GET /api/v1/openapi.json (issue 19, item 2): the OpenAPI 3.1 document, made from the
declarations of app/api/contract.py (the same models that validate requests and shape
answers), plus what the document must say of each operation: who may call it (`x-roles`,
the lowest role; `x-scope`, the token scope of app/api/scopes.py), its refusal codes with an
example each, and its examples. No login: it holds no data."""

from __future__ import annotations

import copy

from flask import current_app

from app.api import bp
from app.api.contract import (COMMON_ERRORS, ERROR_STATUS, AnswerModel, operation,
                              operation_of, spec)
from app.api.helpers import json_response
from app.api.scopes import ROLE_SCOPES, SCOPE_BY_ENDPOINT
from app.domain import ROLES

PREFIX = "/api/v1"
DESCRIPTION = """The TraceTrack JSON API. The guide (authentication, tokens, paging, errors,
idempotency, worked examples) is docs/API.md; this document is the reference.

Authentication: a session cookie from `POST /login` plus the `X-CSRFToken` header on POST,
PATCH and DELETE, or an API token as `Authorization: Bearer tt_<prefix>_<secret>` (no cookie,
no CSRF token). `x-roles` names the roles that may call an operation and `x-scope` the
token scope it needs. Every refusal is `{"error": {"code", "message", ...}}`; `error.code`
is stable, `error.message` is for people."""
STATUS_WORDS = {400: "Bad request", 401: "Not logged in", 403: "Not allowed",
                404: "Not found", 409: "Conflict with the state of things",
                410: "Gone", 413: "Too large", 422: "Refused input", 429: "Too many requests",
                503: "Database unavailable or busy: send it again after Retry-After seconds"}
DOCUMENT_CACHE_KEY = "tracetrack.openapi_document"


class OpenApiDocument(AnswerModel):
    """This document (OpenAPI 3.1)."""

    openapi: str
    info: dict
    paths: dict


def roles_from(lowest: str | None) -> list[str]:
    if lowest is None:
        return []
    return list(ROLES[ROLES.index(lowest):])


def _error_responses(codes: tuple[str, ...]) -> dict:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS.get(code, 409), []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        examples = {code: {"summary": code, "value": {"error": {
            "code": code, "message": "What happened, and what to do next, in plain words.",
            "request_id": "0f6c2d1e9a8b4c7d"}}} for code in status_codes}
        responses[str(status)] = {
            "description": f"{STATUS_WORDS.get(status, 'Refused')}: "
                           + ", ".join(f"`{code}`" for code in status_codes),
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorAnswer"},
                "examples": examples}},
        }
    return responses


def _enrich(operation: dict, endpoint: str, view) -> None:
    declared = operation_of(view)
    scope = SCOPE_BY_ENDPOINT.get(endpoint)
    operation["x-roles"] = roles_from(declared.role if declared else "staff")
    operation["x-scope"] = scope
    operation["x-error-codes"] = list((declared.errors if declared else ()) + COMMON_ERRORS)
    if declared and declared.result_codes:
        operation["x-results"] = list(declared.result_codes)
    roles = ", ".join(operation["x-roles"]) or "anyone"
    operation["description"] = (
        f"{operation.get('description') or ''}\n\nRoles: {roles}. Token scope: "
        f"{scope or 'any token of an active user'}.").strip()
    operation["security"] = ([{"session": []}, {"token": [scope] if scope else []}]
                             if declared is None or declared.role else [])
    successes = {status: answer for status, answer in operation["responses"].items()
                 if status.startswith("2")}
    errors = COMMON_ERRORS + (declared.errors if declared else ())
    if declared is not None and declared.role is None:
        errors = tuple(code for code in errors
                       if code not in ("unauthorized", "invalid_token", "insufficient_scope",
                                       "csrf_failed"))
    operation["responses"] = {**successes, **_error_responses(errors)}
    if declared is None:
        return
    for status, example in declared.examples.items():
        if status == "request":
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                body["example"] = example
        elif str(status) in operation["responses"]:
            content = operation["responses"][str(status)].setdefault("content", {})
            content.setdefault("application/json", {})["example"] = example


def build_document() -> dict:
    """The document for the running app (every /api/v1 rule of its url_map)."""
    # spectree moves the nested models out of its stored schemas the first time it makes the
    # document (their "$defs"): keep them, or a second app in this process (the tests) would
    # get a document whose nested models are missing.
    stored = copy.deepcopy(spec.models)
    try:
        raw = copy.deepcopy(spec._generate_spec())
    finally:
        spec.models = stored
    views = current_app.view_functions
    endpoints = {}
    for rule in current_app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX):
            path = spec.backend.parse_path(rule, None)[0]
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                endpoints[(path, method.lower())] = rule.endpoint
    paths = {}
    for path, operations in raw["paths"].items():
        if not path.startswith(PREFIX):
            continue
        for method, described in operations.items():
            endpoint = endpoints.get((path, method))
            if endpoint is None:
                continue
            _enrich(described, endpoint, views[endpoint])
            described["operationId"] = endpoint.split(".", 1)[-1]
            paths.setdefault(path, {})[method] = described
    schemas = raw["components"]["schemas"]
    schemas.pop("ValidationError", None)
    schemas.pop("ValidationError.ValidationErrorElement", None)
    return {
        "openapi": "3.1.0",
        "info": {"title": "TraceTrack API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": raw.get("tags", []),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The session cookie of POST /login; unsafe methods "
                                           "also need the X-CSRFToken header."},
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token made at /account/tokens. Scopes by "
                                         "role: " + "; ".join(
                                             f"{role}: {', '.join(sorted(scopes))}"
                                             for role, scopes in ROLE_SCOPES.items())},
            },
        },
    }


def document() -> dict:
    """Built once per app (the routes do not change while it runs)."""
    cached = current_app.extensions.get(DOCUMENT_CACHE_KEY)
    if cached is None:
        cached = current_app.extensions[DOCUMENT_CACHE_KEY] = build_document()
    return cached


@bp.get("/openapi.json")
@operation(role=None, answers={200: OpenApiDocument}, tags=("reference",))
def openapi_document():
    """The OpenAPI 3.1 document of this API (no login: it holds no data)."""
    response = json_response(document())
    response.headers["Cache-Control"] = "no-cache"
    return response
