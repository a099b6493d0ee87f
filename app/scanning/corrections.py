"""Supervisor corrections (DESIGN.md section 6): unlink, move, complete, reopen and delete a
bag, each with a reason. The rule book decides (app/rules/bags.py); this module locks the
parents involved, writes, and records a scan event and an audit event. Like the scans, each
takes plain values, runs inside the caller's transaction, never commits, and raises a
Refusal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, update

from app.audit.services import record_audit
from app.extensions import db
from app.models import CHILD, LINKED, PARENT, UNLINKED, Bag, User
from app.models.types import utcnow
from app.domain import Text
from app.rules import bags as rules
from app.rules.codes import CodeError, normalise_code
from app.scanning import services as scans
from app.scanning import store


@dataclass
class Correction:
    result: str
    bag: Bag | None
    code: str
    parent: Bag | None = None  # the parent it is in afterwards (or the corrected parent)
    previous_parent: Bag | None = None


def normalise_or_refuse(raw_code: object) -> str:
    try:
        return normalise_code(raw_code)
    except CodeError as exc:
        raise rules.Refusal("invalid_code", Text("That code was not accepted. %(reason)s",
                                                 reason=exc.args[0])) from None


def snapshot(bag: Bag | None, parent_code: str | None = None) -> dict | None:
    if bag is None:
        return None
    data = {"code": bag.code, "kind": bag.kind, "status": bag.status}
    if bag.kind == PARENT:
        data.update(capacity=bag.capacity, child_count=bag.child_count)
    else:
        data["parent"] = parent_code
    return data


def _changed_meanwhile(code: str) -> rules.Refusal:
    return rules.Refusal("bag_changed", Text("%(code)s was changed by someone else just now. "
                                             "Look it up again and retry.", code=code))


def _prepare(actor: User, raw_code: object, raw_reason: object) -> tuple[str, str]:
    rules.require_supervisor(store.actor(actor))
    return normalise_or_refuse(raw_code), rules.clean_reason(raw_reason)


def unlink_child(actor: User, raw_code: object, raw_reason: object) -> Correction:
    """Take a child out of its parent; it stays as an unlinked bag."""
    code, reason = _prepare(actor, raw_code, raw_reason)
    for _attempt in range(3):
        child, parent_code = store.bag_with_parent_code(code)
        rules.unlink(code, store.state_of(child, parent_code))
        parent = store.lock_parent(parent_code)
        child, _ = store.bag_with_parent_code(code)  # read again under the parent's lock
        if parent is not None and child is not None and child.parent_id == parent.id:
            break
    else:
        raise _changed_meanwhile(code)
    rules.unlink(code, store.state_of(child, parent.code), store.state_of(parent, dispatch=True))
    before = snapshot(child, parent.code)
    child.parent_id, child.status, child.linked_at = None, UNLINKED, None
    db.session.flush()
    db.session.refresh(parent)
    store.record(actor, "unlink", "unlinked", child.code, bag_id=child.id, parent_id=parent.id,
                 parent_code=parent.code, reason=reason)
    record_audit(actor, "bag.unlink", "bag", child.code, before,
                 {**snapshot(child), "reason": reason})
    return Correction("unlinked", child, child.code, previous_parent=parent)


def move_child(actor: User, raw_code: object, raw_target: object,
               raw_reason: object) -> Correction:
    """Move a child (linked or loose) into another parent, respecting its capacity."""
    code, reason = _prepare(actor, raw_code, raw_reason)
    target_code = normalise_or_refuse(raw_target)
    for _attempt in range(3):
        child, source_code = store.bag_with_parent_code(code)
        target, _ = store.bag_with_parent_code(target_code)
        rules.move(code, store.state_of(child, source_code), target_code, store.state_of(target))
        source = db.session.get(Bag, child.parent_id) if child.parent_id else None
        store.lock_in_order([source, target])
        child, _ = store.bag_with_parent_code(code)  # read again under the locks
        if child is not None and child.parent_id == (source.id if source else None):
            break
    else:
        raise _changed_meanwhile(code)
    db.session.refresh(target)
    rules.move(code, store.state_of(child, source_code), target_code, store.state_of(target),
               store.state_of(source, dispatch=True))
    before = snapshot(child, source.code if source else None)
    moved = db.session.execute(
        update(Bag).where(Bag.id == child.id, Bag.parent_id.is_not_distinct_from(
            source.id if source else None))
        .values(parent_id=target.id, status=LINKED, linked_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:  # a loose child that a scan linked a moment ago
        raise _changed_meanwhile(code)
    for bag in (child, source, target):
        if bag is not None:
            db.session.refresh(bag)
    if source is not None:
        store.record(actor, "move", "moved_out", child.code, bag_id=child.id,
                     parent_id=source.id, parent_code=source.code,
                     reason=f"to {target.code}: {reason}")
    store.record(actor, "move", "moved_in", child.code, bag_id=child.id, parent_id=target.id,
                 parent_code=target.code,
                 reason=f"from {source.code if source else 'no parent'}: {reason}")
    if rules.completes(store.state_of(target)):
        target.status = rules.COMPLETE
        db.session.flush()
        store.record(actor, "complete", "auto_completed", target.code, bag_id=target.id,
                     parent_id=target.id, parent_code=target.code)
    record_audit(actor, "bag.move", "bag", child.code, before,
                 {**snapshot(child, target.code), "reason": reason})
    return Correction("moved", child, child.code, parent=target, previous_parent=source)


def _locked_parent_snapshot(code: str) -> dict:
    bag, _ = store.bag_with_parent_code(code)
    rules.parent_to_correct(code, store.state_of(bag))
    return snapshot(store.lock_parent(code))


def complete_parent(actor: User, raw_code: object, raw_reason: object) -> Correction:
    code, reason = _prepare(actor, raw_code, raw_reason)
    before = _locked_parent_snapshot(code)
    outcome = scans.complete_parent(actor, code, force=True, reason=reason)
    record_audit(actor, "bag.complete", "bag", code, before,
                 {**snapshot(outcome.parent), "reason": reason})
    return Correction("completed", outcome.parent, code, parent=outcome.parent)


def reopen_parent(actor: User, raw_code: object, raw_reason: object) -> Correction:
    code, reason = _prepare(actor, raw_code, raw_reason)
    before = _locked_parent_snapshot(code)
    outcome = scans.reopen_parent(actor, code, reason=reason)
    record_audit(actor, "bag.reopen", "bag", code, before,
                 {**snapshot(outcome.parent), "reason": reason})
    return Correction("reopened", outcome.parent, code, parent=outcome.parent)


def delete_bag(actor: User, raw_code: object, raw_reason: object) -> Correction:
    """Delete a bag created by mistake: a parent only when empty, a child from wherever it
    is (its parent's count follows). Its scan events stay, with its code and its parent's."""
    code, reason = _prepare(actor, raw_code, raw_reason)
    for _attempt in range(3):
        bag, parent_code = store.bag_with_parent_code(code)
        rules.delete(code, store.state_of(bag, parent_code))
        parent = store.lock_parent(parent_code if bag.kind == CHILD else code)
        bag, parent_code = store.bag_with_parent_code(code)  # read again under the lock
        if bag is not None and (bag.kind == PARENT or bag.parent_id == (
                parent.id if parent is not None else None)):
            break
    else:
        raise _changed_meanwhile(code)
    rules.delete(code, store.state_of(bag, parent_code), store.state_of(parent, dispatch=True),
                 store.last_dispatch_code(bag.id) if bag.kind == PARENT else None)
    before = snapshot(bag, parent_code)
    in_parent = parent if bag.kind == CHILD else None
    deleted = db.session.execute(
        delete(Bag).where(Bag.id == bag.id,
                          Bag.parent_id.is_not_distinct_from(bag.parent_id))
        .execution_options(synchronize_session=False)).rowcount
    if deleted != 1:  # a loose child linked by a scan a moment ago
        raise _changed_meanwhile(code)
    db.session.expunge(bag)
    if in_parent is not None:
        db.session.refresh(in_parent)
    store.record(actor, "delete", "deleted", code,
                 parent_id=in_parent.id if in_parent else None,
                 parent_code=in_parent.code if in_parent else None, reason=reason)
    record_audit(actor, "bag.delete", "bag", code, before, {"deleted": True, "reason": reason})
    return Correction("deleted", None, code, previous_parent=in_parent)

