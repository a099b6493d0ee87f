"""Two supervisors reserving at the same moment never get the same code (issue 22, item 1):
real threads on PostgreSQL, each with its own connection and transaction, 50 times. Each
round races twice: on a prefix nobody used yet (the counter row is created by both at once,
INSERT ... ON CONFLICT) and on one with a counter (its row locked FOR UPDATE)."""

import string
import threading

import pytest

from app.extensions import db
from app.labels.services import reserve_series
from app.models import LabelCode, User
from tests.helpers import pg_only

PATTERN = r"^(SB\d{5}|M444-\d{5}|Q[A-Z]{2}\d{4})$"
ROUNDS = 50
PER_REQUEST = 5


def fresh_prefixes():
    letters = string.ascii_uppercase
    return [f"Q{a}{b}" for a in letters for b in letters][:ROUNDS]


@pg_only
@pytest.mark.pg_only
def test_concurrent_reservations_never_overlap(make_app):
    app = make_app(PARENT_CODE_PATTERN=PATTERN)
    with app.app_context():
        from app.auth.services import create_user

        users = [create_user(f"boss{n}", "supervisor", "correct horse battery staple", "")
                 for n in range(4)]
        db.session.commit()
        ids = [user.id for user in users]

    handed_out: list[str] = []
    for prefix in fresh_prefixes():
        barrier = threading.Barrier(4)
        results: dict[int, list[str]] = {}
        errors: list[BaseException] = []

        def reserve(slot: int, prefix=prefix, barrier=barrier, results=results, errors=errors):
            with app.app_context():
                try:
                    user = db.session.get(User, ids[slot])
                    barrier.wait(timeout=30)
                    reserved = reserve_series(user, prefix if slot < 2 else "SB", PER_REQUEST)
                    db.session.commit()
                    results[slot] = reserved.codes
                except BaseException as error:  # noqa: BLE001  reported below
                    errors.append(error)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=reserve, args=(slot,)) for slot in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, f"{prefix}: {errors!r}"
        assert sorted(results[0] + results[1]) == [f"{prefix}{n:04d}" for n in range(1, 11)]
        for slot in range(4):
            assert len(results[slot]) == PER_REQUEST
        handed_out += [code for slot in range(4) for code in results[slot]]

    assert len(handed_out) == len(set(handed_out)) == ROUNDS * 4 * PER_REQUEST
    sb_codes = sorted(code for code in handed_out if code.startswith("SB"))
    assert sb_codes == [f"SB{n:05d}" for n in range(1, ROUNDS * 2 * PER_REQUEST + 1)]
    with app.app_context():
        assert db.session.query(LabelCode).count() == len(handed_out)
