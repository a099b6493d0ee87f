"""The rate limits that several blueprints share, and their keys (DESIGN.md section 7).

One scan bucket per user: the station's form post (/scan) and every scan of the JSON API
(and the batch endpoint, when it comes) are decorated with the same `scan_limit`, a shared
limit whose Redis key is `user:<id>/scans` whatever the path (issue 17, finding 5: the form
had a bucket of its own, so a user got twice SCAN_RATE_LIMIT)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache, partial, wraps

from flask import Flask, current_app, g, request
from flask_login import current_user
from limits import RateLimitItem, parse_many

from app.domain import DomainError, Text
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




MAX_BATCH_COST = 101  # a batch counts one per item (more than 100 is refused anyway)


def batch_cost() -> int:
    """A batch of scans (POST /api/v1/scans/batch) uses one scan of the allowance per item:
    sending scans in batches buys no more of them than sending them one by one."""
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else None
    return min(max(len(items), 1), MAX_BATCH_COST) if isinstance(items, list) else 1


class RateLimited(DomainError):
    """Too many requests: 429 with Retry-After (app/errors.py), as Flask-Limiter's own."""

    def __init__(self, retry_after: int):
        super().__init__("rate_limited", Text("Too many attempts. Wait %(seconds)s seconds, "
                                              "then try again.", seconds=retry_after),
                         429, retry_after=retry_after)


@lru_cache(maxsize=16)
def _parsed(limits: str) -> tuple[RateLimitItem, ...]:
    return tuple(sorted(parse_many(limits)))


def charge_scans(cost: int = 1) -> None:
    """Charge `cost` scans to this user's (or token's) bucket: one Redis round trip per limit
    in SCAN_RATE_LIMIT (one, as configured), the same storage key as Flask-Limiter's shared
    limit of scope "scans" would use. Raises RateLimited when the bucket is empty; a store
    that does not answer lets the scan through (RATELIMIT_SWALLOW_ERRORS), as every other
    limit does. Flask-Limiter's own decorator cost about a tenth of a scan's CPU
    (docs/PERFORMANCE.md); the scan endpoints are exempt from its checks (limiter_exempt)."""
    if not limiter.enabled:
        return
    config = current_app.config
    key = (config.get("RATELIMIT_KEY_PREFIX") or "", user_rate_key(), SCAN_SCOPE)
    key = key if key[0] else key[1:]
    for limit in _parsed(config["SCAN_RATE_LIMIT"]):
        try:
            if limiter.limiter.hit(limit, *key, cost=cost):
                continue
            reset_at, _ = limiter.limiter.get_window_stats(limit, *key)
        except Exception:
            if not config.get("RATELIMIT_SWALLOW_ERRORS"):
                raise
            current_app.logger.exception("scan limit store failed: the scan goes through")
            return
        raise RateLimited(max(1, math.ceil(reset_at - time.time())))


def _scan_limited(cost: Callable[[], int] | None) -> Callable[[Callable], Callable]:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def limited(*args, **kwargs):
            charge_scans(cost() if cost is not None else 1)
            return view(*args, **kwargs)

        limited.scan_limited = True  # Flask-Limiter leaves it alone: limiter_exempt()
        return limited

    return decorate


# The one scan bucket: decorate every scan endpoint with it (under the login decorator).
scan_limit = _scan_limited(None)
# The same bucket, charged per item.
batch_scan_limit = _scan_limited(batch_cost)


@limiter.request_filter
def limiter_exempt() -> bool:
    """Flask-Limiter's request filter: a scan endpoint has only the scan bucket (no default
    or application limits are configured), charged by its own decorator."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "scan_limited", False)


def skip_limiter_check_on_scans(app: Flask) -> None:
    """Flask-Limiter's hooks work out each request's limits before the request filter says a
    scan endpoint has none (limiter_exempt), then inject headers and reset a context that the
    scan bucket never uses: the scan endpoints skip all three (issue 25: 7 % of a scan's Python
    instructions). Call after limiter.init_app(app); fails at start, not silently, if
    Flask-Limiter registers its hooks differently."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return  # Flask-Limiter registers no hooks at all
    found = 0
    for hooks in (app.before_request_funcs, app.after_request_funcs,
                  app.teardown_request_funcs):
        app_hooks = hooks.get(None, [])
        for index, hook in enumerate(app_hooks):
            if _is_limiter_hook(hook):
                app_hooks[index] = _unless_scan_endpoint(
                    hook, passes_response=hooks is app.after_request_funcs)
                found += 1
    if found != 3:
        raise RuntimeError("Flask-Limiter's three request hooks were not found (found "
                           f"{found}): check skip_limiter_check_on_scans against its version")


_LIMITER_HOOKS = ("_check_request_limit", "__inject_headers", "__release_context")


def _is_limiter_hook(hook: Callable) -> bool:
    if isinstance(hook, partial):  # after_request: partial(Limiter.__inject_headers, limiter)
        return hook.args[:1] == (limiter,) and hook.func.__name__ in _LIMITER_HOOKS
    return getattr(hook, "__self__", None) is limiter and hook.__name__ in _LIMITER_HOOKS


def _unless_scan_endpoint(hook: Callable, passes_response: bool) -> Callable:
    def hook_unless_scan_endpoint(*args):
        if limiter_exempt():  # an after_request hook hands the response on
            return args[0] if passes_response else None
        return hook(*args)

    hook_unless_scan_endpoint.__name__ = f"{getattr(hook, '__name__', 'hook')}_unless_scan"
    return hook_unless_scan_endpoint


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
