"""argon2id hashing with explicit parameters from config; rehash on login when they change.
The password policy: at least 8 characters, long passphrases welcome, common ones refused."""

from __future__ import annotations

import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

MIN_LENGTH = 8
MAX_LENGTH = 1024  # long passphrases are fine; megabyte "passwords" are a DoS


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher_for(cfg["PASSWORD_HASH_TIME_COST"], cfg["PASSWORD_HASH_MEMORY_KIB"],
                       cfg["PASSWORD_HASH_PARALLELISM"])


@lru_cache(maxsize=8)
def _hasher_for(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                          parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# A hash of a random string, verified against when the username is unknown, so that a
# wrong username costs as long as a wrong password.
def dummy_verify(password: str) -> None:
    verify_password(_dummy_hash(), password)


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("tracetrack_dummy_hash", {})
    key = (current_app.config["PASSWORD_HASH_TIME_COST"], current_app.config["PASSWORD_HASH_MEMORY_KIB"])
    if key not in cache:
        cache[key] = hash_password("not-a-real-password-7Qx!")
    return cache[key]


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("app.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password is refused, in words that say what to do; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters; a few words in a row make a good password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        return "This password is too common. Choose another, for example a few unrelated words."
    if username and username.lower() in lowered:
        return "The password must not contain the username. Choose another."
    return None


# No look-alikes (0/o, 1/l/i): the admin reads the password out or copies it by hand.
GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_password(username: str = "", groups: int = 4, group_length: int = 5) -> str:
    """A random password from the secrets module (about 99 bits in the default shape), in
    dash-separated groups that are easy to type; it always passes password_problem()."""
    while True:
        password = "-".join(
            "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(group_length))
            for _ in range(groups))
        if password_problem(password, username) is None:
            return password
