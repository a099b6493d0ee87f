"""Bearer tokens on /api/v1 (DESIGN 8.4, 8.7). A request with an Authorization header is
judged by it alone, whatever cookie it also carries: the token's user becomes the request's
user (never stored in the session), the endpoint's scope is checked against the token and
the user's role as it is now, and the endpoint's own role check still runs. No CSRF token is
needed then (app/security.py): a browser never adds this header by itself. Each token has
its own allowance of requests (TOKEN_RATE_LIMIT), and its scans count per token."""

from __future__ import annotations

from flask import g, request

from app.api import bp
from app.auth import tokens
from app.auth.scopes import SCOPE_BY_ENDPOINT
from app.domain import DomainError, Text
from app.errors import error_response
from app.site_scope import set_current_site
from app.sites import services as sites
from app.ratelimits import token_request_wait


@bp.before_request
def authenticate_bearer():
    g.pop("api_token", None)  # (tests reuse one app context across requests)
    header = request.headers.get("Authorization")
    if header is None:
        return None
    try:
        token, user = tokens.authenticate(header)
        endpoint = request.endpoint or ""
        tokens.check_scope(token, user, SCOPE_BY_ENDPOINT.get(endpoint),
                           endpoint in SCOPE_BY_ENDPOINT)
    except tokens.TokenError as error:
        challenge = f'Bearer error="{error.code}"'
        if error.details.get("scope"):
            challenge += f', scope="{error.details["scope"]}"'
        return error_response(error.status, error.code, error.message,
                              headers={"WWW-Authenticate": challenge}, **error.details)
    wait = token_request_wait(token.id)
    if wait:
        return error_response(429, "rate_limited", Text("Too many requests with this token. "
                                                        "Wait %(seconds)s seconds, then try "
                                                        "again.", seconds=wait),
                              headers={"Retry-After": str(wait)}, retry_after=wait)
    try:  # the site it works in (issue 21): never the cookie's, always the token's own
        site = sites.token_site(token, user, request.headers.get(sites.SITE_HEADER))
    except DomainError as error:
        return error_response(error.status, error.code, error.message, **error.details)
    set_current_site(site.id, site.timezone)
    g.api_token = token
    # Flask-Login's user for this request only: login_user() would write it to the session.
    g._login_user = user
    tokens.stamp_last_use(token)
    return None
