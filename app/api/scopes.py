"""The API's scopes live in app/auth/scopes.py (the token service below the API needs them);
this name stays for the API and the OpenAPI document."""

from app.auth.scopes import ROLE_SCOPES, SCOPE_BY_ENDPOINT, SCOPES, scopes_for_role

__all__ = ["ROLE_SCOPES", "SCOPE_BY_ENDPOINT", "SCOPES", "scopes_for_role"]
