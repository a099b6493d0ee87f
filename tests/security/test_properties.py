"""Issue 10, item 4: property-based tests (hypothesis).

The code normaliser (DESIGN.md section 4): whatever text arrives, the result is idempotent,
upper-case, NFKC-stable, free of control and invisible characters, and never starts or ends
with a space; anything that is not text is refused.

The scan service (DESIGN.md sections 3 and 5): random sequences of scan parent, scan child,
undo, complete (with and without force) and reopen, by two staff members and a supervisor,
on a small code space with capacity 3, agree step by step with a small model of the rules,
and the section 3 invariants hold in the database (checked with SQL) after every step."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, text

from app.extensions import db
from app.scanning import services
from app.rules.codes import MAX_RAW_LENGTH, CodeError, normalise_code
from app.scanning.services import ScanError
from app.scanning.transaction import run_scan
from tests.helpers import check_invariants

# --- the normaliser ----------------------------------------------------------------------------

SCANNER_NOISE = st.sampled_from(["\r", "\n", "\t", "\x1d", "\x00", "\u200b", "\u00a0", "\ufeff",
                                 "\u200d", "\u2060", " ", "\x1e", "\x04"])
LABEL_CHARS = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
                              "０１２３４５６７８９ＡＢＣｓｂ")
SCANNED = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(LABEL_CHARS, SCANNER_NOISE), max_size=30).map("".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)
INVISIBLE = set("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00a0\u202f\u2007\u00ad")


@settings(max_examples=400, deadline=None)
@given(SCANNED)
def test_the_normaliser_is_idempotent_upper_case_and_clean(raw):
    try:
        code = normalise_code(raw)
    except CodeError:
        return
    assert code, "an empty code was accepted"
    assert normalise_code(code) == code, "normalising twice changes the code"
    assert code == code.upper()
    assert unicodedata.normalize("NFKC", code) == code, "not NFKC-stable"
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in code)
    assert not INVISIBLE & set(code)
    assert code == code.strip()
    assert len(code) <= MAX_RAW_LENGTH * 3  # NFKC may expand, but only so far


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(LABEL_CHARS, SCANNER_NOISE), min_size=1, max_size=20).map("".join),
       st.lists(SCANNER_NOISE, max_size=4).map("".join),
       st.lists(SCANNER_NOISE, max_size=4).map("".join))
def test_scanner_noise_around_a_code_does_not_change_it(core, before, after):
    try:
        expected = normalise_code(core)
    except CodeError:
        return
    assert normalise_code(before + core + after) == expected


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.none(),
                 st.lists(st.text(max_size=5), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)))
def test_anything_but_text_is_refused(value):
    with pytest.raises(CodeError):
        normalise_code(value)


# --- the scan service against a model -----------------------------------------------------------

CAPACITY = 3
PARENTS, CHILDREN = 2, 4
_examples = itertools.count()

OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["parent", "child", "child", "child", "undo", "undo_code", "complete",
                     "reopen", "parent_as_child", "child_as_parent"]),
    st.integers(0, PARENTS - 1), st.integers(0, CHILDREN - 1),
    st.sampled_from(["staff1", "staff2", "boss"]), st.booleans()), min_size=5, max_size=30)


class Model:
    """The rules of DESIGN.md section 5, on plain Python values."""

    def __init__(self):
        self.status = {}  # parent -> open | complete
        self.links = {}  # parent -> [(child, who)] in link order
        self.children = {}  # child -> parent or None (an unlinked bag)

    def parent_of(self, child):
        return self.children.get(child)

    def scan_parent(self, code):
        if code in self.children:
            return "code_is_child"
        if code not in self.status:
            self.status[code], self.links[code] = "open", []
            return "parent_created"
        return "parent_opened"

    def scan_child(self, parent, child, who):
        if parent not in self.status:
            return "parent_not_found"
        if child in self.status:
            return "code_is_parent"
        current = self.parent_of(child)
        if current == parent:
            return "already_linked"
        if current is not None:
            return "child_in_other_parent"
        if self.status[parent] == "complete":
            return "parent_complete"
        if len(self.links[parent]) >= CAPACITY:  # reopened when full
            return "parent_full"
        self.links[parent].append((child, who))
        self.children[child] = parent
        if len(self.links[parent]) >= CAPACITY:
            self.status[parent] = "complete"
        return "linked"

    def undo(self, parent, who, supervisor):
        if parent not in self.status:
            return "parent_not_found"
        # "Undo last" is the last scan this user sent into the parent (issue 27).
        if not supervisor and self.status[parent] != "open":
            return "parent_complete"
        mine = [index for index, (_code, by) in enumerate(self.links[parent]) if by == who]
        if not mine:
            return "nothing_to_undo"
        return self._unlink(parent, mine[-1], who, supervisor)

    def undo_code(self, child, who, supervisor):
        parent = self.parent_of(child)
        if parent is None:
            return "not_linked"
        index = [code for code, _ in self.links[parent]].index(child)
        return self._unlink(parent, index, who, supervisor)

    def _unlink(self, parent, index, who, supervisor):
        child, linked_by = self.links[parent][index]
        if not supervisor:
            if self.status[parent] != "open":
                return "parent_complete"
            if linked_by != who:
                return "not_your_scan"
        del self.links[parent][index]
        self.children[child] = None
        return "unlinked"

    def complete(self, parent, force):
        if parent not in self.status:
            return "parent_not_found"
        if self.status[parent] == "complete":
            return "parent_complete"
        if len(self.links[parent]) < CAPACITY and not force:
            return "under_capacity"
        self.status[parent] = "complete"
        return "completed"

    def reopen(self, parent):
        if parent not in self.status:
            return "parent_not_found"
        if self.status[parent] == "open":
            return "parent_open"
        self.status[parent] = "open"
        return "reopened"


def _outcome(service, *args, **kwargs) -> str:
    try:
        return run_scan(service, *args, **kwargs).result
    except ScanError as error:
        return error.code


def _database_state(parents, children) -> tuple[dict, dict]:
    rows = db.session.execute(text(
        "SELECT b.code, b.kind, b.status, b.child_count, p.code FROM bags b"
        " LEFT JOIN bags p ON p.id = b.parent_id WHERE b.code IN :codes"
    ).bindparams(bindparam("codes", expanding=True)),
        {"codes": parents + children}).all()
    db.session.rollback()
    status = {code: (state, count) for code, kind, state, count, _ in rows if kind == "parent"}
    links = {code: parent for code, kind, _, _, parent in rows if kind == "child"}
    return status, links


@pytest.fixture
def scan_users(make_app, make_user):
    application = make_app(DEFAULT_PARENT_CAPACITY=CAPACITY)
    with application.app_context():
        users = {"staff1": make_user("prop-staff1", "staff"),
                 "staff2": make_user("prop-staff2", "staff"),
                 "boss": make_user("prop-boss", "supervisor")}
        yield users


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(OPERATIONS)
def test_the_scan_service_follows_the_rules_and_keeps_the_invariants(scan_users, operations):
    number = next(_examples)
    assert number < 1000, "out of fresh codes for this run"
    parents = [f"SB{number:03d}{i:02d}" for i in range(PARENTS)]
    children = [f"C{number:04d}X{j}" for j in range(CHILDREN)]
    model = Model()
    for parent in parents:  # both parents exist from the start: more sequences reach the rules
        model.scan_parent(parent)
        run_scan(services.scan_parent, scan_users["staff1"], parent)

    for operation, p, c, who, flag in operations:
        user = scan_users[who]
        supervisor = who == "boss"
        parent, child = parents[p], children[c]
        if operation == "parent":
            expected = model.scan_parent(parent)
            got = _outcome(services.scan_parent, user, parent)
        elif operation == "child":
            expected = model.scan_child(parent, child, who)
            got = _outcome(services.scan_child, user, parent, child)
        elif operation == "parent_as_child":  # a parent's label scanned into another parent
            other = parents[(p + 1) % PARENTS]
            expected = ("parent_not_found" if other not in model.status else "code_is_parent")
            got = _outcome(services.scan_child, user, other, parent)
        elif operation == "child_as_parent":
            expected = "code_is_child" if child in model.children else "invalid_code"
            got = _outcome(services.scan_parent, user, child)
        elif operation == "undo":
            expected = model.undo(parent, who, supervisor)
            got = _outcome(services.undo_scan, user, raw_parent=parent)
        elif operation == "undo_code":
            expected = model.undo_code(child, who, supervisor)
            got = _outcome(services.undo_scan, user, raw_code=child)
        elif operation == "complete":
            expected = model.complete(parent, flag)
            got = _outcome(services.complete_parent, user, parent, force=flag)
        else:
            expected = model.reopen(parent) if supervisor else (
                "parent_not_found" if parent not in model.status else "forbidden")
            got = _outcome(services.reopen_parent, user, parent)
        db.session.rollback()

        assert got == expected, (operation, parent, child, who, flag)
        check_invariants()
        db.session.rollback()
        status, links = _database_state(parents, children)
        assert status == {code: (state, len(model.links[code]))
                          for code, state in model.status.items()}
        assert links == model.children
