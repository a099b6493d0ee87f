"""What the dispatch document tests share: a real SMTP server (aiosmtpd) on a free local
port that keeps every message it takes, and dispatches made through the real services."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from app.dispatch import services as dispatching
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The aiosmtpd handler: every message taken, parsed, with its envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd's Controller (a server in a thread of its own) with an Inbox."""

    def __init__(self, port: int | None = None, *, users: dict[str, str] | None = None):
        from aiosmtpd.controller import Controller

        self.port = port or free_port()
        self.inbox = Inbox()
        kwargs = {}
        if users is not None:
            kwargs = {"authenticator": self._authenticator(users), "auth_required": True,
                      "auth_require_tls": False}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticator(self, users: dict[str, str]):
        from aiosmtpd.smtp import AuthResult

        def check(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode()
            ok = users.get(login) == auth_data.password.decode()
            if ok:
                self.inbox.logins.append(login)
            return AuthResult(success=ok)

        return check

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def dispatched(user, code: str, parents: list[str], *, expected: int | None = None,
               children: int = 3, reason: str | None = None, **fields) -> str:
    """A dispatch loaded with new complete parents and dispatched (short with `reason`)."""
    for parent in parents:
        complete_parent(user, parent, children=children)
    new_dispatch(user, code, expected=expected or len(parents), **fields)
    for parent in parents:
        load(user, code, parent)
    run(dispatching.dispatch_out, user, code, reason)
    return code


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def look_each_day(database_url: str, settings: dict, moments: list, barrier, results) -> None:
    """A process of its own (another worker or host): for each moment, wait for the others,
    then look for the day's summary as a job runner does; put what it did on `results`."""
    from app import create_app
    from app.dispatch_docs import summary as summaries
    from app.extensions import db

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url, **settings})
    with app.app_context():
        for moment in moments:
            barrier.wait(timeout=30)
            for day, outcome in summaries.run_daily_summary(moment):
                results.put((day.isoformat(), outcome))
            db.session.remove()
        db.engine.dispose()
