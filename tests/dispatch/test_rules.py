"""The dispatch rule book as one table of cases (app/rules/dispatch.py): states in, an action
or a refusal code out. No database, no Flask."""

from __future__ import annotations

import pytest

from app.rules import dispatch as rules
from app.rules.bags import Actor, BagState, Refusal, parent_on_dispatch

STAFF, BOSS = Actor(1, "staff"), Actor(2, "supervisor")


def state(status="loading", expected=3, loaded=1):
    return rules.DispatchState("D000001", status, expected, loaded)


def parent(status="complete", count=30):
    return BagState("SB00001", "parent", status, None, 30, count)


CHILD = BagState("0016586", "child", "linked", "SB00009")

LOAD_CASES = [
    # (dispatch, parent, on dispatch, answer)
    (state(), parent(), None, rules.LOAD),
    (state(), parent(), "D000001", rules.ALREADY_LOADED),
    (state(), parent(), "D000002", "parent_on_other_dispatch"),
    (state(), parent("open", 12), None, "parent_not_complete"),
    (state(expected=1, loaded=1), parent(), None, "dispatch_full"),
    (state(expected=1, loaded=1), parent(), "D000001", rules.ALREADY_LOADED),
    (state("dispatched"), parent(), None, "dispatch_not_loading"),
    (state("cancelled"), parent(), None, "dispatch_not_loading"),
    (state(), None, None, "parent_not_found"),
    (state(), CHILD, None, "code_is_child"),
]


@pytest.mark.parametrize(("dispatch", "bag", "on", "answer"), LOAD_CASES)
def test_load(dispatch, bag, on, answer):
    if answer in (rules.LOAD, rules.ALREADY_LOADED):
        assert rules.load(dispatch, "SB00001", bag, on) == answer
    else:
        with pytest.raises(Refusal) as refused:
            rules.load(dispatch, "SB00001", bag, on)
        assert refused.value.code == answer


def test_a_conflict_names_the_other_dispatch():
    with pytest.raises(Refusal) as refused:
        rules.load(state(), "SB00001", parent(), "D000002")
    assert refused.value.details["other_dispatch"] == "D000002"
    assert "D000002" in refused.value.message


@pytest.mark.parametrize(("dispatch", "reason", "answer"), [
    (state(expected=3, loaded=3), None, (rules.DISPATCH, None)),
    (state(expected=3, loaded=3), "early truck", (rules.DISPATCH, "early truck")),
    (state(expected=3, loaded=1), None, "under_expected"),
    (state(expected=3, loaded=1), "", "under_expected"),
    (state(expected=3, loaded=1), "ok", "reason_required"),
    (state(expected=3, loaded=1), "  rain   all day ", (rules.DISPATCH, "rain all day")),
    (state(loaded=0), "nothing", "dispatch_empty"),
    (state("dispatched", 3, 3), None, "dispatch_not_loading"),
])
def test_dispatch(dispatch, reason, answer):
    if isinstance(answer, tuple):
        assert rules.dispatch(BOSS, dispatch, reason) == answer
    else:
        with pytest.raises(Refusal) as refused:
            rules.dispatch(BOSS, dispatch, reason)
        assert refused.value.code == answer


@pytest.mark.parametrize(("call", "answer"), [
    (lambda: rules.dispatch(STAFF, state(loaded=3), None), "forbidden"),
    (lambda: rules.reopen(BOSS, state("dispatched"), "wrong truck"), rules.REOPEN),
    (lambda: rules.reopen(BOSS, state("loading"), "wrong truck"), "dispatch_not_dispatched"),
    (lambda: rules.reopen(BOSS, state("cancelled"), "wrong truck"), "dispatch_not_dispatched"),
    (lambda: rules.reopen(BOSS, state("dispatched"), None), "reason_required"),
    (lambda: rules.reopen(STAFF, state("dispatched"), "wrong truck"), "forbidden"),
    (lambda: rules.reopen(BOSS, rules.DispatchState("T000001", "dispatched", 3, 2,
                                                    transfer=True, received=1), "wrong truck"),
     "dispatch_partly_received"),
    (lambda: rules.cancel(BOSS, state(), "no truck"), rules.CANCEL),
    (lambda: rules.cancel(BOSS, state("dispatched"), "no truck"), "dispatch_not_loading"),
    (lambda: rules.cancel(BOSS, state(), ""), "reason_required"),
    (lambda: rules.return_parent(BOSS, state("dispatched"), "SB00001", parent(), "D000001",
                                 "torn"), rules.RETURN),
    (lambda: rules.return_parent(BOSS, state("loading"), "SB00001", parent(), "D000001",
                                 "torn"), "dispatch_not_dispatched"),
    (lambda: rules.return_parent(BOSS, state("dispatched"), "SB00001", parent(), None,
                                 "torn"), "parent_not_on_dispatch"),
    (lambda: rules.unload(state(), "SB00001", parent(), "D000001"), rules.UNLOAD),
    (lambda: rules.unload(state(), "SB00001", parent(), "D000002"), "parent_not_on_dispatch"),
    (lambda: rules.unload(state("dispatched"), "SB00001", parent(), "D000001"),
     "dispatch_not_loading"),
    (lambda: rules.replay("D000001", "SB00001", "D000001", "SB00001"), rules.REPLAYED),
    (lambda: rules.replay("D000001", "SB00001", "D000001", "SB00002"), "scan_id_reused"),
    (lambda: rules.replay(None, "0016586", "D000001", "0016586"), "scan_id_reused"),
])
def test_the_other_changes(call, answer):
    if answer in (rules.REOPEN, rules.CANCEL, rules.RETURN):
        assert call()[0] == answer
    elif answer in (rules.UNLOAD, rules.REPLAYED):
        assert call() == answer
    else:
        with pytest.raises(Refusal) as refused:
            call()
        assert refused.value.code == answer


@pytest.mark.parametrize(("body", "field"), [
    ({"destination": "Pune", "vehicle_number": "MH12", "expected_parents": 1}, None),
    ({"destination": "Pune", "vehicle_number": "mh-12 ab\u00a01234", "expected_parents": "40"},
     None),
    ({"vehicle_number": "MH12", "expected_parents": 1}, "destination"),
    ({"destination": "Pune", "expected_parents": 1}, "vehicle_number"),
    ({"destination": "Pune", "vehicle_number": "M!", "expected_parents": 1}, "vehicle_number"),
    ({"destination": "Pune", "vehicle_number": "MH12", "expected_parents": 0}, "expected_parents"),
    ({"destination": "Pune", "vehicle_number": "MH12", "expected_parents": False},
     "expected_parents"),
    ({"destination": "Pune", "vehicle_number": "MH12", "expected_parents": 1, "code": "?"},
     "code"),
])
def test_a_new_dispatch(body, field):
    if field is None:
        made = rules.new_dispatch(BOSS, body)
        assert made.vehicle_number in ("MH12", "MH-12 AB1234")  # no-break spaces go, as in codes
    else:
        with pytest.raises(Refusal) as refused:
            rules.new_dispatch(BOSS, body)
        assert (refused.value.code, refused.value.details["field"]) == ("invalid_input", field)


def test_a_parent_on_a_dispatch_refuses_naming_it():
    on = BagState("SB00001", "parent", "complete", None, 30, 30, "D000007")
    parent_on_dispatch(parent(), "it cannot be reopened")  # on none: nothing to refuse
    with pytest.raises(Refusal) as refused:
        parent_on_dispatch(on, "it cannot be reopened")
    assert refused.value.code == "parent_on_dispatch"
    assert refused.value.details["dispatch"] == "D000007"


@pytest.mark.parametrize(("transfer", "loaded", "received", "arrived"), [
    (True, 0, 2, True), (True, 1, 2, False), (True, 0, 0, False), (False, 0, 0, False)])
def test_a_transfer_arrives_when_none_is_on_the_way_and_one_came(transfer, loaded, received,
                                                                 arrived):
    dispatch = rules.DispatchState("T000001", "dispatched", 3, loaded, transfer=transfer,
                                   received=received)
    assert rules.arrived(dispatch) is arrived


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_destination_site_is_no_transfer(blank):
    """"   " was a transfer to the site "" ("There is no site . Check the site's code.")."""
    fields = rules.new_dispatch(BOSS, {"destination": "Nagpur depot", "expected_parents": 2,
                                       "vehicle_number": "MH12AB1234",
                                       "destination_site": blank})
    assert fields.destination_site is None and fields.destination == "Nagpur depot"


def test_refusals_about_the_destination_site_and_receiving_are_translatable():
    with pytest.raises(Refusal) as refused:
        rules.new_dispatch(BOSS, {"destination_site": 5})
    with pytest.raises(Refusal) as nowhere:
        rules.transfer_site("MOON", found=False, same_site=False)
    with pytest.raises(Refusal) as forbidden:
        rules.receive(STAFF, rules.DispatchState("T000001", "dispatched", 1, 1, transfer=True,
                                                 at_destination=True), "SB00001", None, None)
    for error in (refused, nowhere, forbidden):
        assert hasattr(error.value.message, "template"), error.value.message
    assert "receive" in forbidden.value.message and "supervisor" in forbidden.value.message
