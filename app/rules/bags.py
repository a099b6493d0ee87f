"""The rule book: every change of a bag's state is decided here (DESIGN.md sections 3-5, 8.1).

Each function takes the states of the bags involved (plain values read by the caller, under
its locks) and answers what to do, or raises Refusal with the contract's code and a message
in words a warehouse worker understands. Nothing here reads the database, knows Flask or
writes: app/scanning/ applies the answers (locks, writes, events), for the station, the JSON
API, the import job, the supervisor corrections and the offline replay alike, so every entry
point gets the same answer. tests/scanning/test_rules.py is the table of cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain import N_, DomainError, Text
from app.rules.codes import is_doubled_read, matches

PARENT, CHILD = "parent", "child"
OPEN, COMPLETE = "open", "complete"
LINKED, UNLINKED = "linked", "unlinked"
SUPERVISOR_ROLES = ("supervisor", "admin")
# Results of events that put a child into a parent (a scan, or a supervisor's move).
INTO_PARENT = ("linked", "moved_in")
REASON_MIN, REASON_MAX = 3, 300
# Messages said by more than one rule.
CHILD_NOT_PARENT = N_("%(code)s is a child bag, not a parent. Scan the parent's label first.")
COMPLETE_SUPERVISOR_ONLY = N_("%(parent)s is complete; only a supervisor can take bags out "
                              "of it.")

# What the actions below answer: the service does exactly this.
CREATE, OPEN_PARENT = "create", "open"
LINK_NEW, LINK, ALREADY_LINKED, REPLAYED = "link_new", "link", "already_linked", "replayed"
FINISH, REOPEN, UNLINK, MOVE, DELETE = "finish", "reopen", "unlink", "move", "delete"


class Refusal(DomainError):
    """A change the rules refuse."""


@dataclass(frozen=True, slots=True)
class CodeRules:
    """What codes look like (the configuration), and how to say it without a pattern."""

    parent_pattern: str
    child_pattern: str
    capacity: int
    parent_example: str = "SB00001"
    child_example: str = "0016586"

    @classmethod
    def from_config(cls, config) -> CodeRules:
        return cls(config["PARENT_CODE_PATTERN"], config["CHILD_CODE_PATTERN"],
                   config["DEFAULT_PARENT_CAPACITY"], config["PARENT_CODE_EXAMPLE"],
                   config["CHILD_CODE_EXAMPLE"])

    def is_parent_code(self, code: str) -> bool:
        return matches(self.parent_pattern, code)

    def is_child_code(self, code: str) -> bool:
        return matches(self.child_pattern, code) and not is_doubled_read(code)


@dataclass(slots=True)
class BagState:
    """A bag as the rules need it. `parent` is a child's parent code; `capacity` and
    `count` are a parent's; `dispatch` is the live dispatch a parent is on (read by the
    service only where a rule asks: reopen, undo, unlink, move, delete)."""

    code: str
    kind: str
    status: str
    parent: str | None = None
    capacity: int | None = None
    count: int | None = None
    dispatch: str | None = None
    site: int | None = None  # the site that holds it (issue 21)


@dataclass(frozen=True, slots=True)
class Actor:
    id: int
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """The last event that put a child into its parent: who, how (a scan's `linked` or a
    correction's `moved_in`), when, and its place in arrival order (the event id)."""

    user_id: int | None
    username: str | None
    result: str
    at: datetime | None
    seq: int


def parent_on_dispatch(parent: BagState | None, what: Text) -> None:
    """While a parent is on a dispatch (DESIGN 8.2) it cannot be reopened and its children
    cannot change: refused with parent_on_dispatch, naming the dispatch. `what`: what cannot
    be done, as a Text of its own (translated inside the message)."""
    if parent is not None and parent.dispatch is not None:
        raise Refusal("parent_on_dispatch", Text(
            "%(parent)s is on dispatch %(dispatch)s: %(what)s. Take it off that dispatch first "
            "(unload it, or a return once it has left).", parent=parent.code,
            dispatch=parent.dispatch, what=what), dispatch=parent.dispatch)


# --- sites (issue 21) ----------------------------------------------------------------------

def at_site(code: str, bag: BagState | None, site: int | None) -> None:
    """A code scanned at one site that belongs to another is refused (DESIGN 8.5, 8.7): after
    invalid_code, before everything of section 5. `site` None: no current site (the CLI)."""
    if bag is not None and site is not None and bag.site is not None and bag.site != site:
        raise Refusal("bag_at_other_site", Text(
            "%(code)s belongs to another site, not this one. Put it aside and tell a "
            "supervisor.", code=code))


# --- codes ---------------------------------------------------------------------------------

def _not_a_parent_code(code: str, rules: CodeRules) -> Refusal:
    return Refusal("invalid_code", Text(
        "%(code)s is not a parent code. Parent codes look like %(example)s. Scan the "
        "parent's label.", code=code, example=rules.parent_example))


def check_child_code(code: str, parent_code: str, rules: CodeRules) -> None:
    """A code scanned into a parent must look like a child's label."""
    if code == parent_code or rules.is_parent_code(code):
        raise Refusal("code_is_parent", Text("%(code)s is a parent code, not a child. To fill "
                                             "it, scan it as the parent.", code=code))
    if is_doubled_read(code):
        raise Refusal("invalid_code", Text("%(code)s was not accepted: the label was read "
                                           "twice. Scan the child's label again.", code=code))
    if not rules.is_child_code(code):
        raise Refusal("invalid_code", Text(
            "%(code)s is not a child code. Child codes look like %(example)s. Scan the "
            "child's label again.", code=code, example=rules.child_example))


# --- parents -------------------------------------------------------------------------------

def parent_scan(code: str, existing: BagState | None, rules: CodeRules) -> str:
    """A code scanned as a parent: CREATE a new parent, or OPEN_PARENT an existing one."""
    if existing is not None:
        if existing.kind == CHILD:
            raise Refusal("code_is_child", Text(CHILD_NOT_PARENT, code=code))
        return OPEN_PARENT
    if not rules.is_parent_code(code):
        raise _not_a_parent_code(code, rules)
    return CREATE


def parent_for_child_scan(parent_code: str, parent: BagState | None, rules: CodeRules) -> None:
    """The parent named by a child scan must exist and be a parent."""
    if parent is None:
        if not rules.is_parent_code(parent_code):
            raise _not_a_parent_code(parent_code, rules)
        raise Refusal("parent_not_found", Text("There is no parent %(code)s. Scan the "
                                               "parent's label to start it.", code=parent_code))
    if parent.kind != PARENT:
        raise Refusal("code_is_child", Text(CHILD_NOT_PARENT, code=parent_code))


def parent_takes_children(parent: BagState, scanned: str) -> None:
    if parent.status == COMPLETE:
        raise Refusal("parent_complete", Text(
            "%(parent)s is complete. Put %(code)s aside and scan a new parent, or ask a "
            "supervisor to reopen it.", parent=parent.code, code=scanned))
    if parent.count >= parent.capacity:
        raise Refusal("parent_full", Text(
            "%(parent)s is full (%(count)s / %(capacity)s). Put %(code)s aside and scan a "
            "new parent.", parent=parent.code, count=parent.count, capacity=parent.capacity,
            code=scanned))


def takes_new_child(parent: BagState) -> bool:
    """Whether a new label scanned into this (existing, locked) parent would be linked: the
    hot path tries its one-statement insert only then."""
    return parent.status == OPEN and parent.count < parent.capacity


def completes(parent: BagState) -> bool:
    """A parent that reached its capacity completes by itself."""
    return parent.count >= parent.capacity and parent.status == OPEN


# --- children ------------------------------------------------------------------------------

def child_scan(parent_code: str, parent: BagState | None, code: str, child: BagState | None,
               rules: CodeRules) -> str:
    """A child scanned into a parent, in DESIGN section 5's order: LINK_NEW (a new label),
    LINK (a loose bag), ALREADY_LINKED, or a refusal."""
    parent_for_child_scan(parent_code, parent, rules)
    check_child_code(code, parent_code, rules)
    return link_child(parent, code, child)


def link_child(parent: BagState, code: str, child: BagState | None) -> str:
    """The part of a child scan that depends on the child's state (the codes are checked)."""
    at_site(code, child, parent.site)
    if child is not None:
        if child.kind == PARENT:
            raise Refusal("code_is_parent", Text("%(code)s is a parent, not a child. To fill "
                                                 "it, scan it as the parent.", code=code))
        if child.parent == parent.code:
            return ALREADY_LINKED
        if child.parent is not None:
            raise Refusal("child_in_other_parent", Text(
                "%(code)s is already in %(parent)s. Put it aside and tell a supervisor.",
                code=code, parent=child.parent),
                          other_parent=child.parent)
    parent_takes_children(parent, code)
    return LINK_NEW if child is None else LINK


def replay(previous_parent: str | None, previous_code: str, parent_code: str,
           code: str) -> str:
    """A scan whose scan_id this user sent before: the same scan sent again is REPLAYED (it
    changes nothing); the id reused for another parent or code is refused, never answered
    'replayed', which would drop the new scan without a word."""
    if previous_parent == parent_code and previous_code == code:
        return REPLAYED
    raise Refusal("scan_id_reused", Text(
        "This scan's id was already used for %(previous)s in %(parent)s; %(code)s was not "
        "saved. Scan it again.", previous=previous_code,
        parent=previous_parent or Text("another parent"), code=code),
                  previous={"parent": previous_parent, "code": previous_code})


# --- finishing and reopening -----------------------------------------------------------------

def finish(parent: BagState, force: bool) -> str:
    if parent.status == COMPLETE:
        raise Refusal("parent_complete", Text("%(parent)s is already complete.",
                                              parent=parent.code))
    if parent.count < parent.capacity and not force:
        raise Refusal("under_capacity", Text(
            "%(parent)s has %(count)s of %(capacity)s bags. Confirm to finish it short, or "
            "scan the remaining bags.", parent=parent.code, count=parent.count,
            capacity=parent.capacity))
    return FINISH


def reopen(actor: Actor, parent: BagState) -> str:
    if not actor.is_supervisor:
        raise Refusal("forbidden", Text("Only a supervisor can reopen a parent. Ask one."))
    parent_on_dispatch(parent, Text("it cannot be reopened"))
    if parent.status == OPEN:
        raise Refusal("parent_open", Text("%(parent)s is already open.", parent=parent.code))
    return REOPEN


# --- undo ----------------------------------------------------------------------------------

def _when(moment: datetime | None) -> str:
    return moment.strftime("%H:%M on %d %b") if moment else Text("earlier")


def undo(actor: Actor, code: str, child: BagState | None, named_parent: str | None,
         parent: BagState | None, last_link: LinkRecord | None) -> str:
    """Take a named child out of its parent at the station. Staff may undo only their own
    link that no later correction touched, in a parent that is still open; supervisors any."""
    if child is None or child.kind != CHILD or child.parent is None:
        raise Refusal("not_linked", Text("%(code)s is not in any parent; there is nothing "
                                         "to undo.", code=code))
    if named_parent is not None and named_parent != child.parent:
        raise Refusal("child_in_other_parent", Text(
            "%(code)s is not in %(named)s: it is in %(parent)s. Nothing was undone.",
            code=code, named=named_parent, parent=child.parent),
                      other_parent=child.parent)
    parent_on_dispatch(parent, Text("its bags cannot be taken out"))
    if actor.is_supervisor:
        return UNLINK
    if parent is not None and parent.status != OPEN:
        raise Refusal("parent_complete", Text(COMPLETE_SUPERVISOR_ONLY, parent=child.parent))
    if last_link is not None and last_link.result != "linked":
        raise Refusal("corrected", Text(
            "%(code)s was put into %(parent)s by %(user)s at %(at)s, after your scan. Ask a "
            "supervisor to take it out.", code=code, parent=child.parent,
            user=last_link.username or Text("a supervisor"), at=_when(last_link.at)),
                      changed_by=last_link.username)
    if last_link is None or last_link.user_id != actor.id:
        raise Refusal("not_your_scan", Text("%(code)s was scanned by someone else. Ask a "
                                            "supervisor to take it out.", code=code))
    return UNLINK


def undo_last(actor: Actor, parent: BagState, links: dict[str, LinkRecord]) -> str:
    """"Undo last" at the station: the last scan this user sent into this parent whose bag is
    still there as that scan put it (`links`: each child in the parent, with the event that
    put it in). Answers the child's code."""
    parent_on_dispatch(parent, Text("its bags cannot be taken out"))
    if not actor.is_supervisor and parent.status != OPEN:
        raise Refusal("parent_complete", Text(COMPLETE_SUPERVISOR_ONLY, parent=parent.code))
    mine = [(record.seq, code) for code, record in links.items()
            if record.user_id == actor.id and record.result == "linked"]
    if not mine:
        raise Refusal("nothing_to_undo", Text("You have no scans in %(parent)s left to undo.",
                                              parent=parent.code))
    return max(mine)[1]


# --- supervisor corrections ----------------------------------------------------------------

def clean_reason(raw: object) -> str:
    reason = " ".join(raw.split()) if isinstance(raw, str) else ""
    if len(reason) < REASON_MIN:
        raise Refusal("reason_required", Text(
            "Say why you make this correction (at least %(count)s characters).",
            count=REASON_MIN), field="reason")
    if len(reason) > REASON_MAX:
        raise Refusal("reason_required", Text("Keep the reason under %(count)s characters.",
                                              count=REASON_MAX),
                      field="reason")
    return reason


def require_supervisor(actor: Actor) -> None:
    if not actor.is_supervisor:
        raise Refusal("forbidden", Text("Only a supervisor or an admin can correct bags. "
                                        "Ask one."))


def _existing(code: str, bag: BagState | None) -> BagState:
    if bag is None:
        raise Refusal("bag_not_found", Text("There is no bag %(code)s. Check the code.",
                                            code=code))
    return bag


def _child_to_correct(code: str, bag: BagState | None) -> BagState:
    if _existing(code, bag).kind != CHILD:
        raise Refusal("code_is_parent", Text("%(code)s is a parent. Only child bags can be "
                                             "unlinked or moved.", code=code))
    return bag


def unlink(code: str, child: BagState | None, parent: BagState | None = None) -> str:
    child = _child_to_correct(code, child)
    if child.parent is None:
        raise Refusal("not_linked", Text("%(code)s is not in any parent; there is nothing "
                                         "to unlink.", code=code))
    parent_on_dispatch(parent, Text("its bags cannot be taken out"))
    return UNLINK


def move(code: str, child: BagState | None, target_code: str, target: BagState | None,
         source: BagState | None = None) -> str:
    child = _child_to_correct(code, child)
    parent_on_dispatch(source, Text("its bags cannot be moved out"))
    if target is None or target.kind != PARENT:
        raise Refusal("parent_not_found", Text("There is no parent %(code)s. Check the "
                                               "parent's code.", code=target_code))
    if child.parent == target.code:
        raise Refusal("already_linked", Text("%(code)s is already in %(parent)s.", code=code,
                                             parent=target.code))
    if target.status == COMPLETE:
        raise Refusal("parent_complete", Text("%(parent)s is complete. Reopen it first, or "
                                              "choose another parent.", parent=target.code))
    if target.count >= target.capacity:
        raise Refusal("parent_full", Text(
            "%(parent)s is full (%(count)s / %(capacity)s). Choose another parent.",
            parent=target.code, count=target.count, capacity=target.capacity))
    return MOVE


def parent_to_correct(code: str, bag: BagState | None) -> BagState:
    """A supervisor's complete or reopen names a parent."""
    if _existing(code, bag).kind != PARENT:
        raise Refusal("code_is_child", Text("%(code)s is a child bag; only a parent can be "
                                            "completed or reopened.", code=code))
    return bag


def delete(code: str, bag: BagState | None, parent: BagState | None = None,
           was_dispatched: str | None = None) -> str:
    """`parent`: a child's parent, or the parent itself. `was_dispatched`: a parent's last
    dispatch, whatever became of it (cancelled, returned, received)."""
    parent_on_dispatch(parent, Text("its bags cannot be deleted") if bag is not None
                       and bag.kind == CHILD else Text("it cannot be deleted"))
    if _existing(code, bag).kind == PARENT and was_dispatched is not None:
        raise Refusal("parent_has_dispatch_history", Text(
            "%(code)s was on dispatch %(dispatch)s: it stays in that dispatch's record and "
            "cannot be deleted. Move or unlink its bags instead.", code=code,
            dispatch=was_dispatched), dispatch=was_dispatched)
    if bag.kind == PARENT and bag.count:
        raise Refusal("has_children", Text("%(code)s still holds %(count)s bags. Move or "
                                           "unlink them first, then delete it.", code=code,
                                           count=bag.count))
    return DELETE
