"""TraceTrack application factory: config -> extensions -> URL converters -> blueprints -> errors -> cli -> logging.
Nothing here opens a connection or starts a thread at import time."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from app.config import PROJECT_ROOT, config_for


def create_app(env_name: str | None = None, overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    configure(app, env_name, overrides)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_error_handlers(app)
    register_cli(app)
    configure_logging(app)
    return app


def configure(app: Flask, env_name: str | None, overrides: dict | None) -> None:
    config = config_for(env_name)
    app.config.from_object(config)
    app.config["ENV_NAME"] = config.ENV_NAME
    if overrides:
        app.config.update(overrides)
        if ("SQLALCHEMY_DATABASE_URI" in overrides and "SQLALCHEMY_ENGINE_OPTIONS" not in overrides
                and not overrides["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")):
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    hops = app.config.get("PROXY_FIX_HOPS", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from app.auth.sessions import init_login_manager
    from app.extensions import db, limiter, migrate
    from app.i18n import init_i18n
    from app.models.scoping import init_scoping
    from app.models.sqlite import configure_sqlite
    from app.ratelimits import skip_limiter_check_on_scans
    from app.security import init_csrf
    from app.signed import RememberingSessionInterface

    app.session_interface = RememberingSessionInterface()  # each cookie verified once
    db.init_app(app)
    # Batch mode lets the same revisions alter tables on SQLite (which cannot ALTER much).
    migrate.init_app(app, db, directory=str(Path(PROJECT_ROOT / "migrations")),
                     render_as_batch=True, compare_type=True)
    init_csrf(app)  # CSRFProtect; a bearer token on /api/v1 needs none
    limiter.init_app(app)
    skip_limiter_check_on_scans(app)  # the scan endpoints have their own bucket
    init_login_manager(app)
    configure_sqlite(app)
    init_scoping()  # every read limited to the current site (issue 21)
    from app.assets import init_assets

    init_assets(app)
    init_i18n(app)


def register_url_converters(app: Flask) -> None:
    """An <int:...> in a path is a row id: one larger than the database's integer columns
    hold is simply absent (404), not a 500 from a driver that cannot bind it."""
    from werkzeug.routing import IntegerConverter

    class RowIdConverter(IntegerConverter):
        def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
            kwargs.setdefault("max", 2**63 - 1)  # BIGINT, and SQLite's INTEGER
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = RowIdConverter


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.api.docs import docs_bp as api_docs_bp
    from app.auth.routes import bp as auth_bp
    from app.dashboard.routes import bp as dashboard_bp
    from app.dispatch.routes import bp as dispatch_bp
    from app.health.routes import bp as health_bp
    from app.jobs.routes import bp as jobs_bp
    from app.lookup.routes import bp as lookup_bp
    from app.scanning.routes import bp as scanning_bp
    from app.users.routes import bp as users_bp
    from app.audit.routes import bp as audit_bp
    from app.imports.routes import bp as imports_bp
    from app.labels.routes import bp as labels_bp
    from app.tokens.routes import bp as tokens_bp
    from app.dispatch_docs.routes import bp as dispatch_docs_bp
    from app.language.routes import bp as language_bp
    from app.sites.routes import bp as sites_bp

    from app.display import register as register_display

    register_display(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(scanning_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(lookup_bp)
    app.register_blueprint(users_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(labels_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(dispatch_bp)
    app.register_blueprint(dispatch_docs_bp)
    app.register_blueprint(language_bp)
    app.register_blueprint(sites_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(api_docs_bp)


def register_request_hooks(app: Flask) -> None:
    from app.security import init_security

    init_security(app)


def register_error_handlers(app: Flask) -> None:
    from app.errors import init_error_handlers

    init_error_handlers(app)


def register_cli(app: Flask) -> None:
    from app.cli import init_cli

    init_cli(app)


def configure_logging(app: Flask) -> None:
    """JSON log lines on stdout, request logs and /metrics."""
    from app.observability import init_observability

    init_observability(app)
