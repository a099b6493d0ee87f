"""The rule book of dispatches (DESIGN.md 8.2, 8.7): loading, unloading, dispatching,
reopening, cancelling and returns. Like app/rules/bags.py, each function takes the states
involved (read by the service under its locks) and answers what to do, or raises Refusal
with the contract's code and a message a loader understands. No I/O: app/dispatch/services.py
locks, writes and records what these answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain import Text
from app.rules.bags import COMPLETE, PARENT, Actor, BagState, Refusal, clean_reason
from app.rules.codes import CodeError, normalise_code

LOADING, DISPATCHED, CANCELLED, RECEIVED = "loading", "dispatched", "cancelled", "received"
MIN_EXPECTED, MAX_EXPECTED = 1, 500
DISPATCH_CODE = re.compile(r"^[A-Z0-9][A-Z0-9/-]{2,31}$", re.ASCII)
VEHICLE_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9 -]{2,19}$", re.ASCII)
TEXT_LIMITS = {"destination": 120, "driver": 120, "transporter": 120, "reference": 64}
# The text fields as a message names them (translated with the message: app/i18n.py).
FIELD_WORDS = {"destination": Text("destination"), "driver": Text("driver"),
               "transporter": Text("transporter"), "reference": Text("reference")}
# A dispatch's status as a message says it.
STATUS_WORDS = {LOADING: Text("loading"), DISPATCHED: Text("dispatched"),
                CANCELLED: Text("cancelled")}

# What the functions below answer: the service does exactly this.
LOAD, ALREADY_LOADED, REPLAYED = "load", "already_loaded", "replayed"
UNLOAD, DISPATCH, REOPEN, CANCEL, RETURN = "unload", "dispatch", "reopen", "cancel", "return"
RECEIVE, ALREADY_RECEIVED = "receive", "already_received"


@dataclass(slots=True)
class DispatchState:
    """A dispatch as the rules need it: `loaded` counts the parents on it now."""

    code: str
    status: str
    expected: int
    loaded: int
    # Sites (issue 21): a transfer goes to another site; the current site is its origin, or
    # (for a transfer) its destination.
    transfer: bool = False
    at_origin: bool = True
    at_destination: bool = False
    received: int = 0  # a transfer's parents already received at its destination


@dataclass(frozen=True, slots=True)
class NewDispatch:
    code: str | None
    destination: str
    vehicle_number: str
    expected_parents: int
    driver: str | None
    transporter: str | None
    reference: str | None
    destination_site: str | None = None  # a transfer's destination (a site code, issue 21)


def _invalid(field: str, message: Text) -> Refusal:
    return Refusal("invalid_input", message, field=field)


# --- codes ---------------------------------------------------------------------------------

def dispatch_code(raw: object) -> str:
    """A dispatch code as scanned from the bill or typed: normalised like a bag code."""
    try:
        code = normalise_code(raw)
    except CodeError as exc:
        raise _invalid("code", Text("The dispatch code was not accepted. %(reason)s",
                                    reason=exc.args[0])) from None
    if not DISPATCH_CODE.match(code):
        raise _invalid("code", Text("%(code)s is not a dispatch code: 3 to 32 letters, digits, "
                                    "/ or -, starting with a letter or digit (like D000123).",
                                    code=code[:40]))
    return code


def _text(body: dict, name: str, *, required: bool = False) -> str | None:
    raw = body.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _invalid(name, Text("Fill in the %(field)s.", field=FIELD_WORDS[name]))
        return None
    if not isinstance(raw, str):
        raise _invalid(name, Text("The %(field)s must be text.", field=FIELD_WORDS[name]))
    value = " ".join(raw.split())
    if len(value) > TEXT_LIMITS[name] or not value.isprintable():
        raise _invalid(name, Text("The %(field)s must be plain text of at most %(count)s "
                                  "characters.", field=FIELD_WORDS[name],
                                  count=TEXT_LIMITS[name]))
    return value


def vehicle_number(raw: object) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _invalid("vehicle_number", Text("Fill in the vehicle number (as on its plate)."))
    try:
        value = normalise_code(raw)
    except CodeError:
        raise _invalid("vehicle_number", Text("The vehicle number must be text, as on its "
                                              "plate.")) from None
    value = " ".join(value.split())
    if not VEHICLE_NUMBER.match(value):
        raise _invalid("vehicle_number", Text(
            "The vehicle number must be 3 to 20 letters, digits, spaces or dashes, as on its "
            "plate (like MH12AB1234)."))
    return value


def expected_parents(raw: object) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool) or not (
            MIN_EXPECTED <= raw <= MAX_EXPECTED):
        raise _invalid("expected_parents", Text(
            "Expected parents must be a whole number from %(low)s to %(high)s.",
            low=MIN_EXPECTED, high=MAX_EXPECTED))
    return raw


def new_dispatch(actor: Actor, body: dict) -> NewDispatch:
    """A new dispatch's fields, checked and cleaned (DESIGN 8.2); the code may be left out
    (the service makes one)."""
    if not actor.is_supervisor:
        raise Refusal("forbidden", Text("Only a supervisor can open a dispatch. Ask one."))
    code = body.get("code")
    site = body.get("destination_site")
    if site is not None and not isinstance(site, str):
        raise _invalid("destination_site", Text("The destination site must be a site's code "
                                                "(text), like PUNE."))
    site = (site.strip().upper() or None) if site else None
    return NewDispatch(
        code=None if code is None or code == "" else dispatch_code(code),
        destination=_text(body, "destination", required=site is None) or site,
        vehicle_number=vehicle_number(body.get("vehicle_number")),
        expected_parents=expected_parents(body.get("expected_parents")),
        driver=_text(body, "driver"), transporter=_text(body, "transporter"),
        reference=_text(body, "reference"), destination_site=site)


def transfer_site(code: str, found: bool, same_site: bool) -> None:
    """A transfer's destination must be another site that exists."""
    if not found:
        raise _invalid("destination_site", Text("There is no site %(code)s. Check the site's "
                                                "code.", code=code[:16]))
    if same_site:
        raise _invalid("destination_site", Text("A transfer goes to another site, not this "
                                                "one."))


def at_origin(dispatch: DispatchState) -> None:
    """Only the site a dispatch leaves from loads, sends, reopens or cancels it; where a
    transfer arrives, it is received (issue 21)."""
    if not dispatch.at_origin:
        raise Refusal("not_at_origin", Text(
            "Dispatch %(dispatch)s comes to this site from another: here its parents are "
            "received as they come off the truck, nothing else.", dispatch=dispatch.code),
                      dispatch=dispatch.code)


def receive(actor: Actor, dispatch: DispatchState, code: str, parent: BagState | None,
            item_state: str | None) -> str:
    """A parent of a transfer scanned as it comes off the truck at the destination (DESIGN
    8.5, 8.7). `item_state`: its item on this dispatch (loaded, received) or None."""
    _require_supervisor(actor, Text("Only a supervisor can receive a transfer. Ask one."))
    if not dispatch.transfer or not dispatch.at_destination:
        raise Refusal("not_destination", Text(
            "Dispatch %(dispatch)s is not coming to this site: it is received where it goes.",
            dispatch=dispatch.code), dispatch=dispatch.code)
    if item_state == RECEIVED:
        return ALREADY_RECEIVED
    if dispatch.status != DISPATCHED:
        raise Refusal("dispatch_not_dispatched", Text(
            "Dispatch %(dispatch)s is %(status)s: it is received once it has left.",
            dispatch=dispatch.code, status=_status(dispatch.status)),
                      dispatch_status=dispatch.status)
    if parent is None or parent.kind != PARENT or item_state != "loaded":
        raise Refusal("parent_not_on_dispatch", Text(
            "%(code)s is not on dispatch %(dispatch)s. Put it aside and tell a supervisor.",
            code=code, dispatch=dispatch.code))
    return RECEIVE


def arrived(dispatch: DispatchState) -> bool:
    """A transfer is received once none of its parents is still on the way and at least one
    came (the others taken back as returns)."""
    return dispatch.transfer and dispatch.loaded == 0 and dispatch.received > 0


def dispatch_exists(code: str) -> Refusal:
    return Refusal("dispatch_exists", Text("There is already a dispatch %(dispatch)s. Use "
                                           "another code, or leave it empty to have one made.",
                                           dispatch=code), dispatch=code)


def not_found(code: str) -> Refusal:
    return Refusal("dispatch_not_found", Text("There is no dispatch %(dispatch)s. Check the "
                                              "bill's code.", dispatch=code))


# --- loading and unloading ---------------------------------------------------------------------

def _must_be_loading(dispatch: DispatchState) -> None:
    if dispatch.status != LOADING:
        raise Refusal("dispatch_not_loading", Text(
            "Dispatch %(dispatch)s is %(status)s: nothing can be loaded or unloaded. Ask a "
            "supervisor to reopen it.", dispatch=dispatch.code, status=_status(dispatch.status)),
                      dispatch=dispatch.code, dispatch_status=dispatch.status)


def _status(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def replay(previous_dispatch: str | None, previous_code: str, dispatch_code_: str,
           code: str) -> str:
    """A load whose scan_id this user sent before: the same load again is REPLAYED; the id
    reused for another load is refused (never 'replayed', which would drop it silently)."""
    if previous_dispatch == dispatch_code_ and previous_code == code:
        return REPLAYED
    raise Refusal("scan_id_reused", Text("This scan's id was already used for %(previous)s; "
                                         "%(code)s was not loaded. Scan it again.",
                                         previous=previous_code, code=code),
                  previous={"dispatch": previous_dispatch, "code": previous_code})


def load(dispatch: DispatchState, code: str, parent: BagState | None,
         on_dispatch: str | None) -> str:
    """A parent scanned onto a dispatch. `on_dispatch`: the live dispatch it is on now."""
    _must_be_loading(dispatch)
    if parent is None:
        raise Refusal("parent_not_found", Text("There is no parent %(code)s. Check the label.",
                                               code=code))
    if parent.kind != PARENT:
        message = (Text("%(code)s is a child bag in %(parent)s, not a parent. Scan the "
                        "parent's label.", code=code, parent=parent.parent) if parent.parent
                   else Text("%(code)s is a child bag, not a parent. Scan the parent's label.",
                             code=code))
        raise Refusal("code_is_child", message, parent=parent.parent)
    if on_dispatch == dispatch.code:
        return ALREADY_LOADED
    if on_dispatch is not None:
        raise Refusal("parent_on_other_dispatch", Text(
            "%(code)s is already on dispatch %(dispatch)s. Put it aside and tell a supervisor.",
            code=code, dispatch=on_dispatch), other_dispatch=on_dispatch)
    if parent.status != COMPLETE:
        raise Refusal("parent_not_complete", Text(
            "%(code)s is not complete (%(count)s / %(capacity)s). Finish it at the station "
            "before loading it.", code=code, count=parent.count, capacity=parent.capacity))
    if dispatch.loaded >= dispatch.expected:
        raise Refusal("dispatch_full", Text(
            "Dispatch %(dispatch)s already has all %(expected)s parents it expects. Put "
            "%(code)s aside.", dispatch=dispatch.code, expected=dispatch.expected, code=code))
    return LOAD


def unload(dispatch: DispatchState, code: str, parent: BagState | None,
           on_dispatch: str | None) -> str:
    _must_be_loading(dispatch)
    if parent is None or parent.kind != PARENT or on_dispatch != dispatch.code:
        raise Refusal("parent_not_on_dispatch", Text(
            "%(code)s is not on dispatch %(dispatch)s; there is nothing to unload.",
            code=code, dispatch=dispatch.code))
    return UNLOAD


# --- the dispatch as a whole -------------------------------------------------------------------

def _require_supervisor(actor: Actor, message: Text) -> None:
    if not actor.is_supervisor:
        raise Refusal("forbidden", message)


def dispatch(actor: Actor, state: DispatchState, raw_reason: object) -> tuple[str, str | None]:
    """Close the bill: DISPATCH, with the reason why it is short (or None)."""
    _require_supervisor(actor, Text("Only a supervisor can dispatch a dispatch. Ask one."))
    _must_be_loading(state)
    if state.loaded == 0:
        raise Refusal("dispatch_empty", Text("Dispatch %(dispatch)s has no parents loaded. "
                                             "Load them first.", dispatch=state.code))
    given = raw_reason not in (None, "")
    if state.loaded < state.expected:
        if not given:
            raise Refusal("under_expected", Text(
                "Dispatch %(dispatch)s has %(loaded)s of %(expected)s parents. Say why it "
                "leaves short, or load the rest.", dispatch=state.code, loaded=state.loaded,
                expected=state.expected),
                          loaded=state.loaded, expected=state.expected)
        return DISPATCH, clean_reason(raw_reason)
    return DISPATCH, clean_reason(raw_reason) if given else None


def reopen(actor: Actor, state: DispatchState, raw_reason: object) -> tuple[str, str]:
    _require_supervisor(actor, Text("Only a supervisor can reopen a dispatch. Ask one."))
    reason = clean_reason(raw_reason)
    if state.status != DISPATCHED:
        raise Refusal("dispatch_not_dispatched", Text(
            "Dispatch %(dispatch)s is %(status)s: only a dispatched one can be reopened.",
            dispatch=state.code, status=_status(state.status)),
                      dispatch_status=state.status)
    if state.received:
        raise Refusal("dispatch_partly_received", Text(
            "%(count)s parents of dispatch %(dispatch)s are already received where it went: "
            "it cannot be reopened. Take the parents that did not arrive back as returns.",
            count=state.received, dispatch=state.code), received=state.received)
    return REOPEN, reason


def cancel(actor: Actor, state: DispatchState, raw_reason: object) -> tuple[str, str]:
    _require_supervisor(actor, Text("Only a supervisor can cancel a dispatch. Ask one."))
    reason = clean_reason(raw_reason)
    _must_be_loading(state)
    return CANCEL, reason


def return_parent(actor: Actor, state: DispatchState, code: str, parent: BagState | None,
                  on_dispatch: str | None, raw_reason: object) -> tuple[str, str]:
    """A parent that came back: it leaves the dispatch and is back in the warehouse."""
    _require_supervisor(actor, Text("Only a supervisor can take returns on a dispatch. Ask "
                                    "one."))
    reason = clean_reason(raw_reason)
    if state.status != DISPATCHED:
        raise Refusal("dispatch_not_dispatched", Text(
            "Dispatch %(dispatch)s is %(status)s: returns are taken after it is dispatched.",
            dispatch=state.code, status=_status(state.status)),
                      dispatch_status=state.status)
    if parent is None or parent.kind != PARENT or on_dispatch != state.code:
        raise Refusal("parent_not_on_dispatch", Text("%(code)s is not on dispatch "
                                                     "%(dispatch)s.", code=code,
                                                     dispatch=state.code))
    return RETURN, reason
