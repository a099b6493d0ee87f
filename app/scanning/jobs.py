"""The scanning feature's background job: `verify_bags` recounts every parent's children
(started from /jobs by a supervisor)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.jobs.queue import JobContext, job_handler
from app.models import PARENT, Bag

VERIFY_BAGS = "verify_bags"


@job_handler(VERIFY_BAGS)
def verify_bags(context: JobContext) -> dict:
    """Recount every parent's children against its child_count (the database keeps them
    equal; this is the check ops run after a restore or a manual repair)."""
    child = aliased(Bag)
    counts = (select(Bag.code, Bag.child_count, Bag.capacity, func.count(child.id))
              .outerjoin(child, child.parent_id == Bag.id)
              .where(Bag.kind == PARENT).group_by(Bag.id).order_by(Bag.id))
    total = db.session.scalar(select(func.count()).where(Bag.kind == PARENT)) or 0
    mismatches, checked = [], 0
    for code, stored, capacity, actual in db.session.execute(counts).yield_per(5000):
        checked += 1
        if stored != actual or actual > capacity:
            mismatches.append({"code": code, "child_count": stored, "children": actual,
                               "capacity": capacity})
        if checked % 5000 == 0:
            context.progress(checked, total)
    context.progress(checked, total, force=True)
    return {"parents_checked": checked, "mismatches": mismatches[:100],
            "mismatch_count": len(mismatches)}
