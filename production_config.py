"""ProductionConfig: everything from the environment; refuses to start on a missing secret,
a missing or non-PostgreSQL database, or per-worker rate-limit counters."""

from __future__ import annotations

from app.config import BaseConfig, ConfigError, env_bool, env_int, env_str


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        secret = self.SECRET_KEY or ""
        if len(secret.encode()) < 32:
            raise ConfigError(
                "SECRET_KEY is missing or shorter than 32 bytes. Generate one with "
                "`python3 -c 'import secrets; print(secrets.token_hex(32))'` and set it."
            )
        if not self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            raise ConfigError(
                "DATABASE_URL must point at PostgreSQL in production "
                "(postgresql://user:password@host/dbname); SQLite is for the one-machine trial."
            )
        workers = env_int("GUNICORN_WORKERS", 4, minimum=1)
        if self.RATELIMIT_STORAGE_URI.startswith("memory") and workers > 1:
            raise ConfigError(
                "RATELIMIT_STORAGE_URI is memory:// but GUNICORN_WORKERS is "
                f"{workers}: each worker would keep its own counters. "
                "Set RATELIMIT_STORAGE_URI=redis://host:6379/0."
            )
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.HSTS_ENABLED = env_bool("HSTS_ENABLED", self.SESSION_COOKIE_SECURE)
        self.PROXY_FIX_HOPS = env_int("PROXY_FIX_HOPS", 0, minimum=0)

    def default_database_url(self) -> str:
        return env_str("DATABASE_URL") or "missing://"
