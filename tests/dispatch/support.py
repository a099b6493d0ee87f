"""What the dispatch tests share: complete parents made through the real scan service, and
dispatches made through the real dispatch service."""

from __future__ import annotations

from app.dispatch import services as dispatching
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from app.unit_of_work import run


def complete_parent(user, code: str, children: int = 2) -> str:
    """A parent with `children` children, finished (short when below its capacity)."""
    run_scan(scanning.scan_parent, user, code)
    for number in range(children):
        run_scan(scanning.scan_child, user, code, f"{code[-5:]}{number:03d}")
    if children < 30:
        run_scan(scanning.complete_parent, user, code, force=True)
    return code


def new_dispatch(user, code: str = "D000001", expected: int = 3, **fields) -> str:
    body = {"code": code, "destination": "Nagpur depot", "vehicle_number": "MH12AB1234",
            "expected_parents": expected, **fields}
    return run(dispatching.create_dispatch, user, body).dispatch.code


def load(user, dispatch: str, parent: str, **kwargs):
    return run(dispatching.load_parent, user, dispatch, parent, **kwargs)
