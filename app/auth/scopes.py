"""The API's scopes (DESIGN 8.4, 8.7): one table of which scope each /api/v1 endpoint needs,
and which scopes each role may hold. Tokens are judged by it, and the OpenAPI document
names each operation's scope from it; a test checks that every /api/v1 rule is listed.

A token never exceeds its user's role as it is now: the endpoint's own role check still runs,
and a scope the role no longer allows is refused (403 insufficient_scope)."""

from __future__ import annotations

SCOPES = ("scan", "bags:read", "bags:write", "dispatch", "import", "dashboard:read", "users:admin")

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "staff": frozenset({"scan", "bags:read", "dispatch"}),
    "supervisor": frozenset({"scan", "bags:read", "bags:write", "dispatch", "import",
                             "dashboard:read"}),
    "admin": frozenset(SCOPES),
}

# Endpoint name (blueprint "api") -> the scope a token needs for it. None: any valid token of
# an active user (the session itself), or no login at all where the endpoint says so.
SCOPE_BY_ENDPOINT: dict[str, str | None] = {
    "api.scan_parent": "scan",
    "api.scan_child": "scan",
    "api.scan_batch": "scan",
    "api.undo_scan": "scan",
    "api.complete_parent": "scan",
    "api.reopen_parent": "bags:write",
    "api.list_bags": "bags:read",
    "api.show_bag": "bags:read",
    "api.unlink_bag": "bags:write",
    "api.move_bag": "bags:write",
    "api.complete_bag": "bags:write",
    "api.reopen_bag": "bags:write",
    "api.delete_bag": "bags:write",
    "api.dashboard_stats": "dashboard:read",
    "api.dashboard_activity": "dashboard:read",
    "api.dashboard_sites": "dashboard:read",
    "api.show_import": "import",
    "api.create_label_series": "bags:write",
    "api.create_dispatch": "dispatch",
    "api.list_dispatches": "dispatch",
    "api.show_dispatch": "dispatch",
    "api.load_dispatch_parent": "dispatch",
    "api.unload_dispatch_parent": "dispatch",
    "api.send_dispatch": "dispatch",
    "api.reopen_dispatch": "dispatch",
    "api.cancel_dispatch": "dispatch",
    "api.return_dispatch_parent": "dispatch",
    "api.receive_dispatch_parent": "dispatch",
    "api.show_job": None,
    "api.show_session": None,
    "api.openapi_document": None,  # no login at all: the document holds no data
    "api.list_users": "users:admin",
    "api.create_user": "users:admin",
    "api.update_user": "users:admin",
    "api.list_sites": "users:admin",
    "api.create_site": "users:admin",
    "api.update_site": "users:admin",
    "api.switch_session_site": None,
}


def scopes_for_role(role: str) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset())
