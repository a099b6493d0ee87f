"""app/mail.py against a real SMTP server (aiosmtpd), and the mail settings."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from app.config import ConfigError, config_for
from app.mail import MailError, MailSettingsError, parse_smtp_url, recipients, send_message
from tests.dispatch_docs.support import SmtpServer, free_port


def _message(to: str = "boss@example.com") -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "Hello", "tt@example.com", to
    message.set_content("Trucks left.")
    return message


def test_smtp_urls_are_read_with_their_user_password_and_default_ports():
    plain = parse_smtp_url("smtp://mailer:s%40cret%3Ax@mail.example.com:587")
    assert (plain.scheme, plain.host, plain.port) == ("smtp", "mail.example.com", 587)
    assert (plain.username, plain.password) == ("mailer", "s@cret:x")
    assert "s@cret" not in repr(plain)
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    assert parse_smtp_url("SMTP://relay").port == 25
    assert parse_smtp_url("smtp://relay").username is None


@pytest.mark.parametrize("url", ["http://mail.example.com", "mail.example.com:25",
                                 "smtp://", "smtp://host:port"])
def test_a_wrong_smtp_url_is_refused_with_what_to_write(url):
    with pytest.raises(MailSettingsError, match="SMTP_URL"):
        parse_smtp_url(url)


def test_wrong_mail_settings_stop_the_app_at_start(monkeypatch):
    monkeypatch.setenv("SMTP_URL", "imap://mail.example.com")
    with pytest.raises(ConfigError, match="smtp:// or smtps://"):
        config_for("testing")
    monkeypatch.setenv("SMTP_URL", "smtp://mail.example.com")
    monkeypatch.setenv("DISPATCH_SUMMARY_AT", "6pm")
    with pytest.raises(ConfigError, match="DISPATCH_SUMMARY_AT"):
        config_for("testing")
    monkeypatch.setenv("DISPATCH_SUMMARY_AT", "7:05")
    assert config_for("testing").DISPATCH_SUMMARY_AT == "07:05"


def test_recipients_are_a_comma_separated_list():
    assert recipients(" a@x.com, b@y.org ,,") == ("a@x.com", "b@y.org")
    assert recipients(None) == ()


# aiosmtpd warns that AUTH without TLS is unsafe: this test server is on 127.0.0.1 only.
quiet_auth_warning = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@quiet_auth_warning
def test_a_message_reaches_the_server_with_login():
    with SmtpServer(users={"mailer": "pa:ss@word"}) as server:
        url = f"smtp://mailer:pa%3Ass%40word@127.0.0.1:{server.port}"
        send_message(_message(), parse_smtp_url(url), timeout=5)
    assert server.inbox.logins == ["mailer"]
    [message] = server.inbox.messages
    assert message["Subject"] == "Hello"
    assert message.get_content().strip() == "Trucks left."
    assert server.inbox.envelopes == [("tt@example.com", ["boss@example.com"])]


@quiet_auth_warning
def test_a_wrong_password_is_a_mail_error_that_names_no_password():
    with SmtpServer(users={"mailer": "right"}) as server:
        url = f"smtp://mailer:wrong-secret@127.0.0.1:{server.port}"
        with pytest.raises(MailError) as caught:
            send_message(_message(), parse_smtp_url(url), timeout=5)
    assert "wrong-secret" not in str(caught.value)
    assert server.inbox.messages == []


def test_no_server_listening_is_a_mail_error():
    with pytest.raises(MailError, match="Connection"):
        send_message(_message(), parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), timeout=5)
