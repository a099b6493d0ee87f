"""One schema source per /api/v1 endpoint (issue 19, item 1): `operation()` declares the
request body, the query and every answer (success and each refusal code) with pydantic models;
spectree validates the request with them, and app/api/openapi.py makes the document from the
same declarations, so the validation, the answers and the document cannot disagree.

A refused request goes through the app's one error handler (a DomainError): a body that is
not a JSON object is 400 `invalid_json`, a field the endpoint does not take 422
`unknown_field`, a value of the wrong type 422 with the field's own code (`invalid_force`,
`invalid_station` ...) or `invalid_input`, always with `field`.

Answers are checked against their models where API_CHECK_ANSWERS is on (the tests, and
schemathesis against the running app): on the scan path that check would cost CPU for
nothing in production, and an answer that does not conform must fail a test, not a scan."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from flask import current_app, make_response, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from spectree import Response, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from app.api.helpers import json_body
from app.domain import STATUS, DomainError, Text

# Refusals any operation may answer, whatever it declares (401/403 by the login, token and
# role checks, 400 by the CSRF check on a cookie, 429 by the limits, 503 by the database).
COMMON_ERRORS = ("unauthorized", "invalid_token", "insufficient_scope", "site_not_allowed",
                 "csrf_failed",
                 "rate_limited", "database_unavailable", "database_busy")
BODY_ERRORS = ("invalid_json", "unknown_field")
ERROR_STATUS = {**STATUS, "unauthorized": 401, "forbidden": 403, "csrf_failed": 400,
                "rate_limited": 429, "database_unavailable": 503, "database_busy": 503,
                "not_found": 404, "invalid_token": 401, "insufficient_scope": 403,
                "job_not_found": 404, "too_many_items": 422}


class RequestModel(BaseModel):
    """A request body or query: unknown fields are refused (422 unknown_field), never
    ignored. `refusals` names the error code (and a plain message) of a field whose value has
    the wrong type; other fields answer `invalid_input`."""

    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra=lambda schema, model: model.document(schema))
    refusals: ClassVar[dict[str, tuple[str, str]]] = {}
    # Fields the document says are required that the model still takes absent, because the
    # service refuses their absence itself (a scan without a code is a rejected scan, kept).
    required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def document(cls, schema: dict) -> None:
        for name in cls.required:
            schema["properties"][name].pop("default", None)
            schema.setdefault("required", [])
            if name not in schema["required"]:
                schema["required"].append(name)


class AnswerModel(BaseModel):
    """An answer: the fields the contract promises; more may come in a later version."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(AnswerModel):
    code: str = Field(description="Stable machine-readable code; never translated.")
    message: str = Field(description="What happened and what to do next, for a person.")
    request_id: str | None = Field(None, description="Matches the X-Request-ID header.")
    field: str | None = Field(None, description="The field that was refused, when one was.")


class ErrorAnswer(AnswerModel):
    """Every refusal (DESIGN 6). More fields may come with some codes (`other_parent`,
    `previous`, `fields`, `retry_after` ...)."""

    error: ErrorDetail


@dataclass(frozen=True)
class Operation:
    """What the document says of an endpoint beyond its models."""

    role: str | None  # the lowest role that may call it; None: no login needed
    errors: tuple[str, ...]  # the refusal codes of this endpoint
    examples: dict = field(default_factory=dict)  # "request" and/or status -> example body
    answers: dict = field(default_factory=dict)  # status -> answer model
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    result_codes: tuple[str, ...] = ()


class ValidationRefused(DomainError):
    """A body or query refused by its schema, in the contract's words."""


def _plain_type_message(name: str, error: dict) -> Text:
    kind = error.get("type", "")
    if kind == "missing":
        return Text("%(name)s is required: send it in the request.", name=name)
    if kind.startswith("bool"):
        return Text("%(name)s must be true or false.", name=name)
    if kind.startswith(("int", "float")):
        return Text("%(name)s must be a whole number.", name=name)
    if kind.startswith("string"):
        return Text("%(name)s must be text.", name=name)
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected")
        return Text("%(name)s must be one of: %(values)s.", name=name,
                    values=expected if expected else Text("the listed values"))
    # pydantic's own words (English) for anything else.
    return Text("%(name)s is not valid: %(detail)s.", name=name,
                detail=error.get("msg") or Text("check the value"))


def refusal_from(model: type[BaseModel], error: ValidationError) -> ValidationRefused:
    """The first problem of a refused body or query as the app's error (DESIGN 6)."""
    problems = error.errors(include_url=False, include_input=False)
    extra = sorted(str(problem["loc"][0]) for problem in problems
                   if problem["type"] == "extra_forbidden" and problem["loc"])
    if extra:
        from app.rules.codes import printable

        names = [printable(name, 40) for name in extra[:5]]
        allowed = [name for name in model.model_fields]
        return ValidationRefused(
            "unknown_field",
            Text("Unknown field %(names)s: send only %(allowed)s.", names=", ".join(names),
                 allowed=", ".join(allowed) if allowed else Text("an empty object")),
            field=names[0],
            fields=names)
    problem = problems[0]
    name = str(problem["loc"][0]) if problem["loc"] else "body"
    refusals = getattr(model, "refusals", None) or {}
    code, message = refusals.get(name, ("invalid_input", None))
    if problem["type"] == "missing" or message is None:
        message = _plain_type_message(name, problem)
    return ValidationRefused(code, message,
                             STATUS.get(code, 422), field=name)


class AnswerDoesNotConform(RuntimeError):
    """An answer that its declared model refuses: a bug, found by the tests."""


class ApiPlugin(FlaskPlugin):
    """spectree's Flask plugin with the app's own rules: the body must be a JSON object (an
    empty body is {}), and answers are checked only where API_CHECK_ANSWERS is on."""

    def request_validation(self, request, query, json, form, headers, cookies):
        has_data = request.method not in ("GET", "DELETE") or request.get_data(cache=True)
        body = json_body() if json is not None and has_data else None
        try:
            query_value = (self.model_adapter.validate_obj(query, request.args.to_dict())
                           if query is not None else None)
        except ValidationError as error:
            raise refusal_from(query, error) from None
        try:
            json_value = (self.model_adapter.validate_obj(json, body)
                          if json is not None else None)
        except ValidationError as error:
            raise refusal_from(json, error) from None
        from spectree.plugins.base import Context

        request.context = Context(query_value, json_value, None, None, None)

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        if not current_app.config.get("API_CHECK_ANSWERS"):
            return make_response(resp), None
        response, error = super().validate_response(resp, resp_model, skip_validation,
                                                    force_resp_serialize)
        if error is not None:
            raise AnswerDoesNotConform(
                f"{request.method} {request.path}: the answer does not conform to its "
                f"schema: {error}")
        return response, None


def _no_hook(*args, **kwargs) -> None:
    """Refusals are raised as DomainErrors by the plugin; nothing to do here."""


spec = SpecTree(
    "flask", backend=ApiPlugin, mode="strict", before=_no_hook, after=_no_hook,
    validation_error_model=ErrorAnswer, naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    title="TraceTrack API", version="1", path="api/v1-spectree",
    openapi_version="3.1.0", annotations=False,
)
OPERATIONS: dict[Callable, Operation] = {}


def body():
    """The validated body of the current request (a model instance), or None."""
    context = getattr(request, "context", None)
    return getattr(context, "json", None) if context is not None else None


def query():
    """The validated query of the current request (a model instance), or None."""
    context = getattr(request, "context", None)
    return getattr(context, "query", None) if context is not None else None


def operation(*, role: str | None, answers: dict[int, type[BaseModel]],
              errors: Iterable[str] = (), body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, examples: dict | None = None,
              results: Iterable[str] = (), tags: Iterable[str] = ()):
    """Declare an /api/v1 endpoint: put it right above the view (under the route, login and
    role decorators, so that a refused login is judged before the body). `answers` maps
    each success status to its model; `errors` lists the refusal codes it may answer (their
    status comes from app/domain.py STATUS); `examples` has a "request" body and an example
    answer per status."""
    codes = tuple(dict.fromkeys(
        (*errors, *(BODY_ERRORS if body is not None else ()))))
    response = Response(**{f"HTTP_{status}": model for status, model in answers.items()})

    def decorate(view: Callable) -> Callable:
        validated = spec.validate(json=body, query=query, resp=response, tags=tuple(tags))(view)
        OPERATIONS[validated] = Operation(
            role=role, errors=codes, examples=examples or {}, answers=dict(answers),
            body=body, query=query, result_codes=tuple(results))
        return validated

    return decorate


def operation_of(view: Callable) -> Operation | None:
    """The declaration of a view, looking through the login and role decorators."""
    seen = set()
    while view is not None and id(view) not in seen:
        seen.add(id(view))
        if view in OPERATIONS:
            return OPERATIONS[view]
        view = getattr(view, "__wrapped__", None)
    return None
