"""Sending e-mail over SMTP with the standard library (smtplib + email).

SMTP_URL says where and how:
- `smtp://user:password@host:587`: a plain connection, upgraded with STARTTLS whenever the
  server offers it (the usual submission port); a server that offers no STARTTLS gets the
  message in the clear, so use it only on a trusted network or a local relay.
- `smtps://user:password@host:465`: TLS from the first byte, the certificate checked against
  the system's trusted authorities.
User and password are optional (a local relay often needs none); characters such as `@` or
`:` in them are percent-encoded (`%40`, `%3A`). MAIL_FROM is the sender's address.

Importing this module opens nothing; each send opens one connection and closes it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailError(Exception):
    """The message could not be handed to the SMTP server (down, refused, timed out)."""


class MailSettingsError(ValueError):
    """SMTP_URL cannot be understood; the message says what to write instead."""


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password, in logs or tracebacks
        who = f"{self.username}@" if self.username else ""
        return f"SmtpServer({self.scheme}://{who}{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SmtpServer:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MailSettingsError(
            "SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465 "
            "(the port is a number).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise MailSettingsError(
            f"SMTP_URL must start with smtp:// or smtps://, got {parts.scheme or 'nothing'}://.")
    if not parts.hostname:
        raise MailSettingsError("SMTP_URL names no host: smtp://user:password@host:587.")
    return SmtpServer(
        scheme=scheme, host=parts.hostname, port=port or DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None)


def send_message(message: EmailMessage, server: SmtpServer, *,
                 timeout: float = 30.0) -> dict[str, tuple[int, bytes]]:
    """Hand `message` to the server (its To, Cc and From headers say who gets it and from
    whom). Any failure to connect, log in or deliver to anyone is a MailError with the
    reason. Answers the recipients the server refused while taking it for the others: the
    message went, so it is not to be sent again; the caller logs them."""
    context = ssl.create_default_context()
    try:
        if server.scheme == "smtps":
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout,
                                          context=context)
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with connection:
            connection.ehlo()
            if server.scheme == "smtp" and connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            if server.username:
                connection.login(server.username, server.password or "")
            return connection.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{server!r}: {exc.__class__.__name__}: {exc}") from exc


def recipients(raw: str | None) -> tuple[str, ...]:
    """A comma-separated list of addresses (DISPATCH_SUMMARY_TO)."""
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())
