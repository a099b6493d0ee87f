"""Dashboard figures, computed from the data on every request (nothing cached per worker)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import CHILD, PARENT, Bag


def bag_counts() -> dict:
    rows = db.session.execute(
        select(Bag.kind, Bag.status, func.count()).group_by(Bag.kind, Bag.status)
    ).all()
    counts = {(kind, status): n for kind, status, n in rows}
    return {
        "parents": {"open": counts.get((PARENT, "open"), 0),
                    "complete": counts.get((PARENT, "complete"), 0)},
        "children": {"linked": counts.get((CHILD, "linked"), 0),
                     "unlinked": counts.get((CHILD, "unlinked"), 0)},
    }
