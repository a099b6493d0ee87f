"""Helpers for the token tests: make a token through the service, send with it."""

from __future__ import annotations

from app.auth import tokens
from app.extensions import db
from tests.helpers import PASSWORD


def make_token(user, scopes=("scan", "bags:read"), days=None, name="erp") -> str:
    _, text = tokens.create_token(user, name, list(scopes), days, PASSWORD)
    db.session.commit()
    return text


def bearer(text: str) -> dict:
    return {"Authorization": f"Bearer {text}"}
