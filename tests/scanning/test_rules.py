"""The rule book on its own (app/rules/bags.py): one table of cases, plain values in, an
action or a refusal code out. No database and no Flask: what every entry point is answered
from (tests/scanning/test_entry_points.py runs the same situations through them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.rules import bags as rules
from app.rules.bags import Actor, BagState, LinkRecord

CODES = rules.CodeRules(r"^(SB\d{5}|M444-\d{5})$", r"^[A-Z0-9]{4,20}$", 3,
                        "SB00001 or M444-00001", "0016586")
STAFF, OTHER, BOSS = Actor(1, "staff"), Actor(2, "staff"), Actor(9, "supervisor")
AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def parent(code="SB00001", status="open", count=1, capacity=3) -> BagState:
    return BagState(code, "parent", status, None, capacity, count)


def child(code="0016586", parent_code=None) -> BagState:
    return BagState(code, "child", "linked" if parent_code else "unlinked", parent_code)


def link(user=STAFF, result="linked", seq=1) -> LinkRecord:
    return LinkRecord(user.id, f"user{user.id}", result, AT, seq)


CASES = [
    # (what, call, expected action or refusal code)
    ("new parent label", lambda: rules.parent_scan("SB00002", None, CODES), "create"),
    ("existing parent", lambda: rules.parent_scan("SB00001", parent(), CODES), "open"),
    ("complete parent opens too",
     lambda: rules.parent_scan("SB00001", parent(status="complete"), CODES), "open"),
    ("a child's code as parent",
     lambda: rules.parent_scan("0016586", child(), CODES), "code_is_child"),
    ("not a parent code", lambda: rules.parent_scan("XX1", None, CODES), "invalid_code"),

    ("new label into open parent",
     lambda: rules.child_scan("SB00001", parent(), "0011111", None, CODES), "link_new"),
    ("loose bag", lambda: rules.child_scan("SB00001", parent(), "0016586", child(), CODES),
     "link"),
    ("already in this parent", lambda: rules.child_scan(
        "SB00001", parent(), "0016586", child(parent_code="SB00001"), CODES), "already_linked"),
    ("already in this complete parent", lambda: rules.child_scan(
        "SB00001", parent(status="complete"), "0016586", child(parent_code="SB00001"), CODES),
     "already_linked"),
    ("in another parent", lambda: rules.child_scan(
        "SB00001", parent(), "0016586", child(parent_code="SB00002"), CODES),
     "child_in_other_parent"),
    ("parent complete", lambda: rules.child_scan(
        "SB00001", parent(status="complete"), "0011111", None, CODES), "parent_complete"),
    ("parent full (reopened at capacity)", lambda: rules.child_scan(
        "SB00001", parent(count=3), "0011111", None, CODES), "parent_full"),
    ("parent unknown", lambda: rules.child_scan("SB09999", None, "0011111", None, CODES),
     "parent_not_found"),
    ("parent could never be one", lambda: rules.child_scan(
        "NOPARENT", None, "0011111", None, CODES), "invalid_code"),
    ("parent field holds a child", lambda: rules.child_scan(
        "0016586", child(), "0011111", None, CODES), "code_is_child"),
    ("a parent's label as child", lambda: rules.child_scan(
        "SB00001", parent(), "SB00002", None, CODES), "code_is_parent"),
    ("the parent itself as child", lambda: rules.child_scan(
        "SB00001", parent(), "SB00001", None, CODES), "code_is_parent"),
    ("a stored parent as child (pattern changed)", lambda: rules.child_scan(
        "SB00001", parent(), "0099999", BagState("0099999", "parent", "open", None, 3, 0),
        CODES), "code_is_parent"),
    ("child fails the pattern", lambda: rules.child_scan(
        "SB00001", parent(), "AB1", None, CODES), "invalid_code"),
    ("label read twice", lambda: rules.child_scan(
        "SB00001", parent(), "00111110011111", None, CODES), "invalid_code"),

    ("the same scan sent again", lambda: rules.replay("SB00001", "0016586", "SB00001",
                                                       "0016586"), "replayed"),
    ("the id reused for another code", lambda: rules.replay("SB00001", "0016586", "SB00001",
                                                             "0016587"), "scan_id_reused"),
    ("the id reused for another parent", lambda: rules.replay("SB00001", "0016586", "SB00002",
                                                               "0016586"), "scan_id_reused"),

    ("finish full", lambda: rules.finish(parent(count=3), False), "finish"),
    ("finish short without force", lambda: rules.finish(parent(), False), "under_capacity"),
    ("finish short with force", lambda: rules.finish(parent(), True), "finish"),
    ("finish a complete parent", lambda: rules.finish(parent(status="complete"), True),
     "parent_complete"),
    ("staff reopen", lambda: rules.reopen(STAFF, parent(status="complete")), "forbidden"),
    ("supervisor reopen", lambda: rules.reopen(BOSS, parent(status="complete")), "reopen"),
    ("reopen an open parent", lambda: rules.reopen(BOSS, parent()), "parent_open"),

    ("undo own link", lambda: rules.undo(STAFF, "0016586", child(parent_code="SB00001"), None,
                                         parent(), link()), "unlink"),
    ("undo someone else's link", lambda: rules.undo(
        OTHER, "0016586", child(parent_code="SB00001"), None, parent(), link()),
     "not_your_scan"),
    ("undo a link a supervisor corrected since", lambda: rules.undo(
        STAFF, "0016586", child(parent_code="SB00001"), None, parent(),
        link(BOSS, "moved_in")), "corrected"),
    ("undo in a complete parent", lambda: rules.undo(
        STAFF, "0016586", child(parent_code="SB00001"), None, parent(status="complete"),
        link()), "parent_complete"),
    ("supervisor undoes anyone's", lambda: rules.undo(
        BOSS, "0016586", child(parent_code="SB00001"), None, parent(status="complete"),
        link()), "unlink"),
    ("undo naming the wrong parent", lambda: rules.undo(
        BOSS, "0016586", child(parent_code="SB00002"), "SB00001", parent("SB00002"), link()),
     "child_in_other_parent"),
    ("undo a loose bag", lambda: rules.undo(STAFF, "0016586", child(), None, None, None),
     "not_linked"),
    ("undo a deleted bag", lambda: rules.undo(STAFF, "0016586", None, None, None, None),
     "not_linked"),
    ("undo last: mine, the latest", lambda: rules.undo_last(STAFF, parent(count=3), {
        "A": link(seq=1), "B": link(OTHER, seq=3), "C": link(seq=2)}), "C"),
    ("undo last: nothing of mine", lambda: rules.undo_last(STAFF, parent(), {
        "B": link(OTHER, seq=3), "C": link(BOSS, "moved_in", seq=4)}), "nothing_to_undo"),

    ("unlink a linked child", lambda: rules.unlink("0016586", child(parent_code="SB00001")),
     "unlink"),
    ("unlink a loose bag", lambda: rules.unlink("0016586", child()), "not_linked"),
    ("unlink a parent", lambda: rules.unlink("SB00001", parent()), "code_is_parent"),
    ("move into open parent", lambda: rules.move("0016586", child(parent_code="SB00002"),
                                                 "SB00001", parent()), "move"),
    ("move where it is", lambda: rules.move("0016586", child(parent_code="SB00001"),
                                            "SB00001", parent()), "already_linked"),
    ("move into full parent", lambda: rules.move("0016586", child(), "SB00001",
                                                 parent(count=3)), "parent_full"),
    ("move into unknown parent", lambda: rules.move("0016586", child(), "SB09999", None),
     "parent_not_found"),
    ("delete an empty parent", lambda: rules.delete("SB00001", parent(count=0)), "delete"),
    ("delete a parent holding bags", lambda: rules.delete("SB00001", parent()),
     "has_children"),
    ("delete nothing", lambda: rules.delete("SB00001", None), "bag_not_found"),
    ("a reason too short", lambda: rules.clean_reason(" x "), "reason_required"),
    ("staff correcting", lambda: rules.require_supervisor(STAFF), "forbidden"),
]


@pytest.mark.parametrize(("what", "call", "expected"), CASES, ids=[case[0] for case in CASES])
def test_the_rule_book(what, call, expected):
    try:
        answer = call()
    except rules.Refusal as refusal:
        answer = refusal.code
        assert refusal.message and "\\" not in refusal.message and "^" not in refusal.message
    assert answer == expected, what


def test_a_refusal_carries_its_http_status():
    with pytest.raises(rules.Refusal) as caught:
        rules.child_scan("SB09999", None, "0011111", None, CODES)
    assert caught.value.status == 404
    with pytest.raises(rules.Refusal) as caught:
        rules.child_scan("SB00001", parent(), "AB1", None, CODES)
    assert caught.value.status == 422


def test_a_parent_completes_when_it_reaches_its_capacity():
    assert rules.completes(parent(count=3))
    assert not rules.completes(parent(count=2))
    assert not rules.completes(parent(count=3, status="complete"))
