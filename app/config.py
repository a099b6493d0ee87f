"""Configuration classes (development, testing, production). Each reads the environment when
instantiated (inside create_app), never at import, so that tests and the CLI can set variables
first. ProductionConfig refuses to start on a missing secret, a missing or non-PostgreSQL
database, or per-worker rate-limit counters."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from app.domain import ROLES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def instance_dir() -> Path:
    """Where the one-machine trial keeps its SQLite file and secret key (INSTANCE_DIR)."""
    path = Path(os.environ.get("INSTANCE_DIR") or PROJECT_ROOT / "instance")
    path.mkdir(parents=True, exist_ok=True)
    return path


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable and what to do."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_weight(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 10_000:
        raise ConfigError(f"{name} must be a weight in kg above 0, got {raw!r}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}.")


def env_roles(name: str, default: str) -> tuple[str, ...]:
    """A comma-separated list of roles; a variable set to "" is an empty list."""
    raw = os.environ.get(name, default)
    roles = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ConfigError(f"{name} must list roles among {', '.join(ROLES)} (comma-separated) "
                          f"or be empty, got {raw!r}.")
    return roles


def env_timezone(name: str, default: str) -> str:
    """An IANA time zone name (Asia/Kolkata, Europe/Berlin, UTC), checked against the
    time zone database now rather than at the first request that needs it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env_str(name, default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"{name} must be an IANA time zone name such as Asia/Kolkata or Europe/Berlin, "
            f"got {value!r}. (If the name is right, install the system tzdata package.)"
        ) from None
    return value


def env_clock(name: str, default: str) -> str:
    """A time of day, HH:MM on the 24-hour clock (18:00), answered as written."""
    value = env_str(name, default)
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and int(hours) < 24 and int(minutes) < 60):
        raise ConfigError(f"{name} must be a time of day as HH:MM (24-hour clock, such as "
                          f"18:00), got {value!r}.")
    return f"{int(hours):02d}:{minutes}"


def normalise_database_url(url: str) -> str:
    """Pin the PostgreSQL driver: a bare postgresql:// (or Heroku-style postgres://) URL
    would otherwise depend on SQLAlchemy's default driver choice."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str, *, pool_size: int, max_overflow: int, pool_timeout: int,
                   statement_timeout_ms: int, lock_timeout_ms: int, connect_timeout: int,
                   application_name: str = "tracetrack") -> dict:
    if not url.startswith("postgresql"):
        return {}
    pg_options = (
        f"-c statement_timeout={statement_timeout_ms} "
        f"-c lock_timeout={lock_timeout_ms} "
        "-c idle_in_transaction_session_timeout=60000"
    )
    return {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 300,
        "connect_args": {
            "connect_timeout": connect_timeout,
            "options": pg_options,
            "application_name": application_name,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    }


class BaseConfig:
    ENV_NAME = "base"

    def __init__(self) -> None:
        self.SECRET_KEY = env_str("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env_str("DATABASE_URL") or self.default_database_url()
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(
            self.SQLALCHEMY_DATABASE_URI,
            pool_size=env_int("DB_POOL_SIZE", 30, minimum=1),
            max_overflow=env_int("DB_MAX_OVERFLOW", 20, minimum=0),
            pool_timeout=env_int("DB_POOL_TIMEOUT", 5, minimum=1),
            statement_timeout_ms=env_int("DB_STATEMENT_TIMEOUT_MS", 30000, minimum=0),
            lock_timeout_ms=env_int("DB_LOCK_TIMEOUT_MS", 2000, minimum=0),
            connect_timeout=env_int("DB_CONNECT_TIMEOUT", 2, minimum=1),
        )
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

        # Sessions: a scanning page stays open for a whole shift.
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=env_int("SESSION_HOURS", 12, minimum=1))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.SESSION_COOKIE_NAME = "tracetrack_session"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # The CSRF token lives as long as the session that holds it, never less.
        self.WTF_CSRF_TIME_LIMIT = None
        self.WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
        # WTForms' own messages come from our catalog (app/forms.py), not from the catalogs
        # WTForms ships (which have no Hindi).
        self.WTF_I18N_ENABLED = False

        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024, minimum=1024)
        self.HSTS_ENABLED = env_bool("HSTS_ENABLED", False)

        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        # Check each /api/v1 answer against its schema (app/api/contract.py): on in the tests
        # and the schemathesis run; off in production, where it would cost the scan path CPU.
        self.API_CHECK_ANSWERS = env_bool("API_CHECK_ANSWERS", False)
        self.RATELIMIT_STORAGE_URI = env_str("RATELIMIT_STORAGE_URI", "memory://")
        # X-RateLimit-* headers on every answer cost a second Redis call per request (a
        # scan's largest single cost, docs/PERFORMANCE.md) and no client reads them; a 429
        # carries Retry-After either way (app/errors.py).
        self.RATELIMIT_HEADERS_ENABLED = env_bool("RATELIMIT_HEADERS_ENABLED", False)
        # Two counters per key instead of a list of timestamps: as smooth as a moving window at
        # a fraction of the Redis work per request (every scan passes the limiter).
        self.RATELIMIT_STRATEGY = env_str("RATELIMIT_STRATEGY", "sliding-window-counter")
        # Redis down: the limiter lets requests through and logs it, so scanning goes on;
        # the login view then refuses (fails closed: docs/SECURITY.md). Short socket timeouts
        # keep an unreachable Redis from holding a request for long.
        self.RATELIMIT_SWALLOW_ERRORS = True
        storage_timeout = env_int("RATELIMIT_STORAGE_TIMEOUT", 1, minimum=1)
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": storage_timeout,
                                          "socket_timeout": storage_timeout}
        # Keys in Redis start with this: deployments (or test runs) can share one Redis.
        self.RATELIMIT_KEY_PREFIX = env_str("RATELIMIT_KEY_PREFIX", "tracetrack")
        # Every attempt counts (exact under concurrency). Per address: generous, since a
        # whole shift may log in from behind one NAT address within a minute.
        self.LOGIN_RATE_LIMIT = env_str("LOGIN_RATE_LIMIT", "60 per minute")
        self.LOGIN_USERNAME_RATE_LIMIT = env_str("LOGIN_USERNAME_RATE_LIMIT", "10 per minute")
        self.SCAN_RATE_LIMIT = env_str("SCAN_RATE_LIMIT", "600 per minute")
        # Every request made with one API token (issue 19), whatever the endpoint; its scans
        # also count in SCAN_RATE_LIMIT, per token.
        self.TOKEN_RATE_LIMIT = env_str("TOKEN_RATE_LIMIT", "1200 per minute")
        # Roles that must log in with a second factor (TOTP); empty: none (a trial, a test
        # server). Set but empty means empty, not the default.
        self.REQUIRE_2FA_ROLES = env_roles("REQUIRE_2FA_ROLES", "admin")

        # argon2id with OWASP's recommended parameters (m=19 MiB, t=2, p=1): each hash holds
        # its memory while it runs, and 4 workers x 2 threads may hash at once at shift start,
        # so 8 x 19 MiB stays well inside the memory budget (64 MiB would take 512 MiB).
        self.PASSWORD_HASH_TIME_COST = env_int("PASSWORD_HASH_TIME_COST", 2, minimum=1)
        self.PASSWORD_HASH_MEMORY_KIB = env_int("PASSWORD_HASH_MEMORY_KIB", 19456, minimum=8)
        self.PASSWORD_HASH_PARALLELISM = env_int("PASSWORD_HASH_PARALLELISM", 1, minimum=1)

        self.PARENT_CODE_PATTERN = env_str("PARENT_CODE_PATTERN", r"^(SB\d{5}|M444-\d{5})$")
        self.CHILD_CODE_PATTERN = env_str("CHILD_CODE_PATTERN", r"^[A-Z0-9]{4,20}$")
        self.DEFAULT_PARENT_CAPACITY = env_int("DEFAULT_PARENT_CAPACITY", 30, minimum=1)
        # How refusals describe a code to a worker: examples, never the pattern itself.
        self.PARENT_CODE_EXAMPLE = env_str("PARENT_CODE_EXAMPLE", "SB00001 or M444-00001")
        self.CHILD_CODE_EXAMPLE = env_str("CHILD_CODE_EXAMPLE", "0016586 (4 to 20 letters "
                                                                 "and digits)")
        self.SCAN_IDLE_SECONDS = env_int("SCAN_IDLE_SECONDS", 300, minimum=10)
        # Labels (issue 22): a Zebra printer's raw port, tcp://host:9100; unset, no printing.
        self.LABEL_PRINTER_URL = env_str("LABEL_PRINTER_URL")
        # Dispatch (issue 20): a child bag's weight, for a dispatch's actual and expected kg.
        self.CHILD_BAG_WEIGHT_KG = env_weight("CHILD_BAG_WEIGHT_KG", 1.0)

        # The dashboard's "today" and hour buckets; stored times stay UTC.
        self.APP_TIMEZONE = env_timezone("APP_TIMEZONE", "UTC")
        # Sites (issue 21): the site that existing data moved into, where users without a
        # site are put and what the CLI and jobs without a site of their own work in.
        self.DEFAULT_SITE_CODE = (env_str("DEFAULT_SITE_CODE", "MAIN") or "MAIN").upper()
        # The language of a visitor with no setting and no Accept-Language we speak (issue 23).
        self.DEFAULT_LANGUAGE = env_str("DEFAULT_LANGUAGE", "en").lower()
        if self.DEFAULT_LANGUAGE not in ("en", "hi"):
            raise ConfigError(f"DEFAULT_LANGUAGE must be en or hi, got {self.DEFAULT_LANGUAGE!r}.")
        self.STALE_PARENT_MINUTES = env_int("STALE_PARENT_MINUTES", 30, minimum=1)

        # Background jobs (app/jobs/).
        self.MAX_CONCURRENT_JOBS = env_int("MAX_CONCURRENT_JOBS", 20, minimum=1)
        self.JOB_RUNNER_THREADS = env_int("JOB_RUNNER_THREADS", 1, minimum=0)
        self.JOB_RUNNER_AUTOSTART = env_bool("JOB_RUNNER_AUTOSTART", True)
        self.JOB_POLL_SECONDS = env_int("JOB_POLL_SECONDS", 2, minimum=1)
        self.JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10, minimum=1)
        self.JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 60, minimum=2)
        self.JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
        self.HEAVY_REQUESTS_PER_WORKER = env_int("HEAVY_REQUESTS_PER_WORKER", 2, minimum=1)
        self.HEAVY_REQUEST_WAIT_SECONDS = env_int("HEAVY_REQUEST_WAIT_SECONDS", 1, minimum=0)
        # Imports: how long an uploaded file that was never imported is kept (an imported
        # one goes as soon as its import succeeds).
        self.IMPORT_UPLOAD_RETENTION_HOURS = env_int("IMPORT_UPLOAD_RETENTION_HOURS", 24,
                                                     minimum=1)
        # Every uploaded file is parsed in a process of its own with these limits (address
        # space, processor seconds): app/imports/parse_child.py, docs/SECURITY.md.
        self.IMPORT_PARSE_MEMORY_MB = env_int("IMPORT_PARSE_MEMORY_MB", 256, minimum=128)
        self.IMPORT_PARSE_SECONDS = env_int("IMPORT_PARSE_SECONDS", 120, minimum=5)

        self.configure_mail_and_dispatch_summary()

        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
        self.REQUEST_LOG = env_bool("REQUEST_LOG", True)
        self.METRICS_TOKEN = env_str("METRICS_TOKEN")

    def default_database_url(self) -> str:
        raise ConfigError("DATABASE_URL is not set.")

    def configure_mail_and_dispatch_summary(self) -> None:
        """E-mail (app/mail.py) and the day's dispatch summary (app/dispatch_docs/summary.py).
        No SMTP_URL: the summary is built and logged, never sent."""
        self.SMTP_URL = env_str("SMTP_URL")
        if self.SMTP_URL:
            from app.mail import MailSettingsError, parse_smtp_url

            try:
                parse_smtp_url(self.SMTP_URL)
            except MailSettingsError as exc:
                raise ConfigError(str(exc)) from None
        self.MAIL_FROM = env_str("MAIL_FROM", "TraceTrack <tracetrack@localhost>")
        self.SMTP_TIMEOUT_SECONDS = env_int("SMTP_TIMEOUT_SECONDS", 30, minimum=1)
        self.DISPATCH_SUMMARY_AT = env_clock("DISPATCH_SUMMARY_AT", "18:00")
        self.DISPATCH_SUMMARY_TO = env_str("DISPATCH_SUMMARY_TO", "")
        self.DISPATCH_SUMMARY_ATTACH = env_bool("DISPATCH_SUMMARY_ATTACH", False)
        # After a failed send (SMTP server down): the next try, by any worker or host.
        self.DISPATCH_SUMMARY_RETRY_SECONDS = env_int("DISPATCH_SUMMARY_RETRY_SECONDS", 300,
                                                      minimum=0)
        self.STALE_DISPATCH_HOURS = env_int("STALE_DISPATCH_HOURS", 8, minimum=1)



class DevelopmentConfig(BaseConfig):
    """One machine, embedded SQLite under instance/, for trying TraceTrack."""

    ENV_NAME = "development"

    def __init__(self) -> None:
        super().__init__()
        if not self.SECRET_KEY:
            self.SECRET_KEY = _instance_secret_key()

    def default_database_url(self) -> str:
        return f"sqlite:///{instance_dir() / 'tracetrack.db'}"


class TestingConfig(BaseConfig):
    ENV_NAME = "testing"

    def default_database_url(self) -> str:
        return "sqlite://"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "testing-secret-key-that-is-long-enough-0123456789"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env_str("TEST_DATABASE_URL") or "sqlite:///:memory:"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(
            self.SQLALCHEMY_DATABASE_URI, pool_size=10, max_overflow=20, pool_timeout=5,
            statement_timeout_ms=30000, lock_timeout_ms=2000, connect_timeout=2,
        )
        # Switched back on by the tests that are about them.
        self.WTF_CSRF_ENABLED = False
        self.RATELIMIT_ENABLED = False
        self.RATELIMIT_STORAGE_URI = "memory://"
        # Tests drive the job runner themselves (run_once) or start it explicitly.
        self.JOB_RUNNER_AUTOSTART = False
        # Every /api/v1 answer of every test is checked against its schema (app/api/contract.py).
        self.API_CHECK_ANSWERS = True
        # Tests log admins in all over the suite: the two-factor tests switch it on.
        self.REQUIRE_2FA_ROLES = ()
        # Cheap hashes keep the suite fast; the parameters stay explicit and testable.
        self.PASSWORD_HASH_TIME_COST = 1
        self.PASSWORD_HASH_MEMORY_KIB = 8
        self.PASSWORD_HASH_PARALLELISM = 1


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


def _instance_secret_key() -> str:
    """A per-installation random key for the one-machine trial, kept in instance/ so that
    sessions survive a restart. Production never uses this (ProductionConfig fails fast)."""
    key_file = instance_dir() / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def config_for(env_name: str | None):
    name = (env_name or env_str("APP_ENV", "development")).lower()
    configs = {"development": DevelopmentConfig, "testing": TestingConfig,
               "production": ProductionConfig}
    if name not in configs:
        raise ConfigError(
            f"APP_ENV must be development, testing or production, got {name!r}."
        )
    return configs[name]()
