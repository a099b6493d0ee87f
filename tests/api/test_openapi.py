"""Issue 19, items 1 and 2: the OpenAPI document is made from the schemas that validate the
requests; it is valid OpenAPI 3.1, names every /api/v1 rule of app.url_map with its roles,
token scope, examples and refusal codes, and is served without a login. The request checks
answer in the contract's error shape (DESIGN 6)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from app.api.contract import operation_of
from app.api.openapi import PREFIX
from app.api.scopes import SCOPE_BY_ENDPOINT, SCOPES
from app.domain import ROLES
from tests.helpers import plain_login

IGNORED = {"HEAD", "OPTIONS"}


def document_of(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def api_rules(app) -> dict[tuple[str, str], str]:
    """(path in OpenAPI form, method) -> endpoint, for every /api/v1 rule."""
    from app.api.contract import spec

    rules = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX):
            path = spec.backend.parse_path(rule, None)[0]
            for method in rule.methods - IGNORED:
                rules[(path, method.lower())] = rule.endpoint
    return rules


def test_the_document_is_valid_openapi_3_1_and_needs_no_login(client):
    document = document_of(client)

    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_rule_is_in_the_document_with_roles_scope_examples_and_errors(app, client):
    """The list this test prints names each endpoint still to declare: put
    @operation(...) (app/api/contract.py) right above its view, and its scope in
    app/api/scopes.py."""
    document = document_of(client)
    rules = api_rules(app)
    documented = {(path, method) for path, operations in document["paths"].items()
                  for method in operations}

    undeclared = sorted(endpoint for endpoint in rules.values()
                        if operation_of(app.view_functions[endpoint]) is None)
    missing = sorted(set(rules) - documented)
    assert not undeclared, f"/api/v1 endpoints without @operation: {undeclared}"
    assert not missing, f"/api/v1 rules missing from the document: {missing}"
    assert documented <= set(rules), sorted(documented - set(rules))

    problems = []
    for (path, method), endpoint in sorted(rules.items()):
        operation = document["paths"][path][method]
        name = f"{method.upper()} {path}"
        if endpoint not in SCOPE_BY_ENDPOINT:
            problems.append(f"{name}: no scope in app/api/scopes.py")
        elif operation["x-scope"] != SCOPE_BY_ENDPOINT[endpoint]:
            problems.append(f"{name}: x-scope {operation['x-scope']}")
        if operation["x-scope"] is not None and operation["x-scope"] not in SCOPES:
            problems.append(f"{name}: unknown scope {operation['x-scope']}")
        if not set(operation["x-roles"]) <= set(ROLES):
            problems.append(f"{name}: x-roles {operation['x-roles']}")
        successes = [status for status in operation["responses"] if status.startswith("2")]
        if not successes:
            problems.append(f"{name}: no success answer")
        refusals = {status: answer for status, answer in operation["responses"].items()
                    if status[0] in "45"}
        if operation["x-roles"] and "401" not in refusals:
            problems.append(f"{name}: no 401")
        for status, answer in refusals.items():
            examples = answer["content"]["application/json"]["examples"]
            for code, example in examples.items():
                if example["value"]["error"]["code"] != code:
                    problems.append(f"{name} {status}: example of {code}")
            if not examples:
                problems.append(f"{name} {status}: no example")
        if "requestBody" in operation and "example" not in (
                operation["requestBody"]["content"]["application/json"]):
            problems.append(f"{name}: no request example")
        if not operation.get("summary") or operation["summary"].endswith(f"<{method.upper()}>"):
            problems.append(f"{name}: no summary (give the view a docstring)")
    assert not problems, problems


def test_a_second_app_gets_the_same_document_with_its_nested_models(app, make_app):
    from app.api.openapi import build_document

    with app.app_context():
        first = build_document()
    with make_app().app_context():
        second = build_document()

    assert second == first
    assert {"Parent", "Dispatch", "DispatchFigures", "ErrorDetail"} <= set(
        second["components"]["schemas"])


def test_the_coverage_check_names_an_endpoint_added_without_a_declaration(make_app):
    application = make_app()
    application.add_url_rule("/api/v1/surprise", "api.surprise", lambda: {}, methods=["GET"])

    undeclared = [endpoint for endpoint in api_rules(application).values()
                  if operation_of(application.view_functions[endpoint]) is None]

    assert undeclared == ["api.surprise"]


def test_roles_in_the_document_match_who_may_call(app, client):
    document = document_of(client)

    operation = document["paths"]["/api/v1/users"]["get"]
    assert operation["x-roles"] == ["admin"] and operation["x-scope"] == "users:admin"
    scan = document["paths"]["/api/v1/scans/child"]["post"]
    assert scan["x-roles"] == list(ROLES) and scan["x-scope"] == "scan"
    assert {"linked", "already_linked", "replayed"} <= set(scan["x-results"])
    assert {"parent_full", "scan_id_reused"} <= set(scan["x-error-codes"])
    assert document["paths"]["/api/v1/openapi.json"]["get"]["x-roles"] == []


def test_the_dispatch_operations_and_the_dashboard_card_are_declared(client):
    document = document_of(client)
    paths, schemas = document["paths"], document["components"]["schemas"]

    load = paths["/api/v1/dispatches/{code}/parents"]["post"]
    assert load["x-roles"] == list(ROLES) and load["x-scope"] == "dispatch"
    assert set(load["x-results"]) == {"loaded", "already_loaded", "replayed"}
    assert {"parent_on_other_dispatch", "dispatch_full", "scan_id_reused",
            "invalid_station"} <= set(load["x-error-codes"])
    assert {"200", "201", "404", "409", "422"} <= set(load["responses"])
    send = paths["/api/v1/dispatches/{code}/dispatch"]["post"]
    assert send["x-roles"] == ["supervisor", "admin"] and "under_expected" in send["x-error-codes"]
    assert set(schemas["ReturnParent"]["required"]) == {"parent", "reason"}
    assert "dispatches" in schemas["DashboardStats"]["required"]
    assert {"stale", "bags_out_today"} <= set(schemas["DispatchFigures"]["properties"])
    assert set(schemas["DispatchDetail"]["required"]) >= {"parents", "returned", "events",
                                                          "weight_kg", "created_at"}


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"parent": "SB00001", "code": "0016586", "force": 1}, 422, "unknown_field", "force"),
    ({"parent": "SB00001", "code": "0016586", "station": 7}, 422, "invalid_station", "station"),
    ({"code": "0016586"}, 422, "invalid_code", "any"),  # the service refuses it, and keeps it
])
def test_a_refused_body_answers_the_contract_shape(app, client, make_user, body, status, code,
                                                  field):
    make_user("the-staff", "staff")
    plain_login(client, "staff")

    response = client.post("/api/v1/scans/child", json=body)

    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and len(error["message"]) >= 15
    assert field == "any" or error.get("field") == field


def test_the_docs_page_loads_the_vendored_viewer_without_inline_script(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in page
    assert "js/api-docs.js" in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js").status_code == 200
