"""Two-factor login (issue 17): a time-based one-time password (TOTP, RFC 6238, pyotp) from an
authenticator app, enrolled with a QR code (segno), and ten one-time recovery codes.

REQUIRE_2FA_ROLES names the roles that must have it (default admin; empty, none). A user of
such a role who has none enrols at the next login, before the session starts; any user who
has one is asked for a code after the password. Each TOTP code works once (the accepted time
step is kept, and a code of that step or an earlier one is refused); each recovery code works
once. An admin can reset another user's second factor (audited): that user's sessions end,
and they enrol again at their next login.

Services never commit; the caller does.
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp
from sqlalchemy import delete, or_, update

from app.extensions import db
from app.models import RecoveryCode, User
from app.models.types import utcnow

ISSUER = "TraceTrack"
VALID_WINDOW = 1            # the step before and after the current one: clocks drift
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
PENDING_SECONDS = 300       # password checked, code still to come: this long at most


def required_for(user: User, roles: tuple[str, ...]) -> bool:
    return user.role in roles


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data URI (the CSP allows data: images)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000",
                                                   light="#fff")


def clean_code(raw: object) -> str:
    """What the user typed, without spaces and dashes, lower-cased."""
    if not isinstance(raw, str):
        return ""
    return "".join(ch for ch in raw.strip().lower() if ch not in " -")[:32]


def _timecode(secret: str, code: str) -> int | None:
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    try:
        return totp.verify_and_get_timecode(code, valid_window=VALID_WINDOW)
    except pyotp.exceptions.OTPVerificationError:
        return None


def verify_totp(user: User, raw: object) -> bool:
    """True when `raw` is the user's current code and no code of its time step (or a later
    one) was accepted before. The step is claimed in one UPDATE, so two requests racing
    with the same code cannot both pass."""
    if user.totp_secret is None:
        return False
    timecode = _timecode(user.totp_secret, clean_code(raw))
    if timecode is None:
        return False
    claimed = db.session.execute(
        update(User).where(User.id == user.id,
                           or_(User.totp_last_timecode.is_(None),
                               User.totp_last_timecode < timecode))
        .values(totp_last_timecode=timecode)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    user.totp_last_timecode = timecode
    return True


def use_recovery_code(user: User, raw: object) -> bool:
    """True when `raw` is one of the user's unused recovery codes; it is spent at once."""
    code = clean_code(raw)
    if len(code) != 10:
        return False
    spent = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False))
    return spent.rowcount == 1


def verify_second_factor(user: User, raw: object) -> str | None:
    """"totp" or "recovery_code" for the factor that matched, or None."""
    if verify_totp(user, raw):
        return "totp"
    if use_recovery_code(user, raw):
        return "recovery_code"
    return None


def enrol(user: User, secret: str, raw_code: object) -> list[str] | None:
    """Turn on the second factor with `secret` once `raw_code` shows the app has it. Returns
    the new recovery codes (shown once, stored hashed), or None when the code is wrong."""
    timecode = _timecode(secret, clean_code(raw_code))
    if timecode is None:
        return None
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_timecode = timecode
    return new_recovery_codes(user)


def new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]


def remaining_recovery_codes(user: User) -> int:
    from sqlalchemy import func, select

    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def reset(user: User) -> None:
    """Remove the user's second factor and recovery codes, and end their sessions."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_timecode = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.end_all_sessions()


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
