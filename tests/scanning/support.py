"""The scan API as the scanning tests drive it: one call per endpoint, and the check of a
successful answer. Imported by name (`from tests.scanning.support import ...`)."""

from __future__ import annotations


def parent_scan(client, code):
    return client.post("/api/v1/scans/parent", json={"code": code})


def child_scan(client, parent, code, **extra):
    return client.post("/api/v1/scans/child", json={"parent": parent, "code": code, **extra})


def undo(client, **body):
    return client.post("/api/v1/scans/undo", json=body)


def complete(client, code, **body):
    return client.post(f"/api/v1/parents/{code}/complete", json=body)


def reopen(client, code):
    return client.post(f"/api/v1/parents/{code}/reopen", json={})


def ok(response, status: int, result: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body["result"] == result, body
    return body


def fill(client, parent, codes):
    for code in codes:
        ok(child_scan(client, parent, code), 201, "linked")
