"""DESIGN.md section 3 in SQL. Each query counts the rows that break one invariant, so 0
means it holds. The test suite and the benchmarks in loadtests/ check the same ones."""

from __future__ import annotations

from sqlalchemy import text

INVARIANT_CHECKS = {
    "parents whose child_count differs from their children or leaves 0..capacity":
        "SELECT count(*) FROM bags p WHERE p.kind = 'parent' AND (p.child_count < 0"
        " OR p.child_count > p.capacity"
        " OR p.child_count <> (SELECT count(*) FROM bags c WHERE c.parent_id = p.id))",
    "links that are not child -> parent":
        "SELECT count(*) FROM bags c JOIN bags p ON p.id = c.parent_id"
        " WHERE c.kind <> 'child' OR p.kind <> 'parent'",
    "codes that stand for more than one bag (a parent and a child, say)":
        "SELECT count(*) FROM (SELECT upper(code) FROM bags GROUP BY upper(code)"
        " HAVING count(*) > 1) AS taken_twice",
    "parents inside a parent":
        "SELECT count(*) FROM bags p WHERE p.kind = 'parent' AND p.parent_id IS NOT NULL",
    "children with children of their own":
        "SELECT count(*) FROM bags c WHERE c.kind = 'child'"
        " AND EXISTS (SELECT 1 FROM bags g WHERE g.parent_id = c.id)",
    "children whose status disagrees with their parent_id":
        "SELECT count(*) FROM bags WHERE kind = 'child'"
        " AND ((status = 'linked' AND parent_id IS NULL)"
        " OR (status = 'unlinked' AND parent_id IS NOT NULL))",
}


def broken_invariants(session) -> dict[str, int]:
    """{invariant: rows that break it}, for each one that does not hold; {} when all do.
    `session`: a SQLAlchemy Session or Connection."""
    found = {name: session.execute(text(sql)).scalar_one()
             for name, sql in INVARIANT_CHECKS.items()}
    return {name: rows for name, rows in found.items() if rows}
