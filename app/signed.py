"""Signed values that every request carries (the session cookie, the CSRF token), verified once
per process instead of once per request (issue 25).

A station sends the same cookie and the same CSRF token with each of its scans, and checking
their signatures (two HMACs, base64, the payload's JSON) cost a scan about a tenth of its
Python. A signed text that verified once verifies again: a worker remembers, by the exact text
and the keys that checked it, when it was signed and what it carried. Nothing else is
remembered: whether the session's user may still act is read on every request
(app/auth/sessions.py), and a text that was never verified here is verified as before. An
expiry still counts from the signing time, and a memo holds at most MEMO_SIZE texts per
worker."""

from __future__ import annotations

import time
from datetime import datetime

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

MEMO_SIZE = 4096


class VerifiedTexts:
    """Texts whose signature verified: text -> (signed at, in epoch seconds; what it carried).
    Bounded: once full it starts again empty (each entry is found again by one verification)."""

    def __init__(self, size: int = MEMO_SIZE):
        self._size = size
        self._entries: dict[tuple, tuple[int, object]] = {}

    def get(self, key: tuple, max_age: int | None) -> object | None:
        """What the text carried, if it verified before and is not older than max_age (or
        signed in the future, as itsdangerous refuses too); None means: verify it."""
        seen = self._entries.get(key)
        if seen is None:
            return None
        signed_at, value = seen
        if max_age is not None and not 0 <= time.time() - signed_at <= max_age:
            return None
        return value

    def remember(self, key: tuple, signed_at: datetime, value: object) -> None:
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = (int(signed_at.timestamp()), value)


def _keys(app: Flask) -> tuple:
    return (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))


class RememberingSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, the same cookie format, keys and expiry, with the
    signing serializer built once per set of keys (Flask builds one per request) and each
    cookie's signature verified once per worker. The session is rebuilt from the payload's
    JSON on every request, so a request that changes its session changes only its own."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}
        self._verified = VerifiedTexts()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = _keys(app)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (_keys(app), cookie)
        payload = self._verified.get(key, max_age)
        if payload is None:
            try:
                data, signed_at = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            payload = self.serializer.dumps(data)
            self._verified.remember(key, signed_at, payload)
        return self.session_class(self.serializer.loads(payload))

