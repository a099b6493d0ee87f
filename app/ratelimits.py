"""The rate limits that several blueprints share, and their keys (DESIGN.md section 7).

One scan bucket per user: the station's form post (/scan) and every scan of the JSON API
(and the batch endpoint, when it comes) are decorated with the same `scan_limit`, a shared
limit whose Redis key is `user:<id>/scans` whatever the path (issue 17, finding 5: the form
had a bucket of its own, so a user got twice SCAN_RATE_LIMIT)."""

from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user

from app.extensions import limiter

SCAN_SCOPE = "scans"


def user_rate_key() -> str:
    """Per API token when the request carries one (app/api/bearer.py), else per user: a
    system's token does not use up the station's allowance of the same user."""
    token = g.get("api_token")
    if token is not None:
        return f"token:{token.id}"
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    from flask_limiter.util import get_remote_address

    return f"ip:{get_remote_address()}"


def scan_rate_limit() -> str:
    return current_app.config["SCAN_RATE_LIMIT"]


def login_username_key() -> str:
    """The username a login attempt names, whatever the body: a urlencoded or multipart
    form, or a JSON object (Flask-WTF reads either as the form). Finding 4: reading only
    request.form put every JSON login into one empty-username bucket. A value that is not
    text counts under the empty name (the request is refused with 400 anyway)."""
    username = request.form.get("username")
    if username is None and request.is_json:
        body = request.get_json(silent=True)
        username = body.get("username") if isinstance(body, dict) else None
    if not isinstance(username, str):
        username = ""
    return "login-user:" + username.strip().lower()[:64]


# The one scan bucket: decorate every scan endpoint with this object itself.
scan_limit = limiter.shared_limit(scan_rate_limit, scope=SCAN_SCOPE, key_func=user_rate_key)


MAX_BATCH_COST = 101  # a batch counts one per item (more than 100 is refused anyway)


def batch_cost() -> int:
    """A batch of scans (POST /api/v1/scans/batch) uses one scan of the allowance per item:
    sending scans in batches buys no more of them than sending them one by one."""
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else None
    return min(max(len(items), 1), MAX_BATCH_COST) if isinstance(items, list) else 1


# The same bucket (scope "scans"), charged per item.
batch_scan_limit = limiter.shared_limit(scan_rate_limit, scope=SCAN_SCOPE,
                                        key_func=user_rate_key, cost=batch_cost)


def token_request_wait(token_id: int) -> int:
    """Counts one request of an API token against TOKEN_RATE_LIMIT (the same store as every
    other limit, so all workers agree): 0 when it may go on, else the seconds to wait. A store
    that does not answer lets the request through, as the other limits do
    (RATELIMIT_SWALLOW_ERRORS): the API keeps working."""
    if not limiter.enabled:
        return 0
    from limits import parse

    limit = parse(current_app.config["TOKEN_RATE_LIMIT"])
    key = (current_app.config.get("RATELIMIT_KEY_PREFIX") or "tracetrack", "token", str(token_id))
    try:
        if limiter.limiter.hit(limit, *key):
            return 0
        reset_at, _ = limiter.limiter.get_window_stats(limit, *key)
    except Exception:  # noqa: BLE001 - the limit store is down: let the request through
        return 0
    import math
    import time

    return max(1, math.ceil(reset_at - time.time()))
