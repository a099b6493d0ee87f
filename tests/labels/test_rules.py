"""The series rules (app/rules/labels.py): which prefixes can start a parent code, the width
of their numbers, the count's range, and picking the codes nobody holds. No I/O."""

import pytest

from app.domain import DomainError
from app.rules.labels import candidates, number_width, pick_free, plan_series

PATTERN = r"^(SB\d{5}|M444-\d{5})$"
EXAMPLE = "SB00001 or M444-00001"


@pytest.mark.parametrize(("prefix", "width", "first"), [
    ("SB", 5, "SB00001"), (" sb ", 5, "SB00001"), ("M444-", 5, "M444-00001"),
    ("m444-", 5, "M444-00001")])
def test_a_prefix_of_the_parent_pattern_gets_its_width(prefix, width, first):
    plan = plan_series(prefix, 3, PATTERN, EXAMPLE)
    assert plan.width == width
    assert plan.code(1) == first
    assert plan.code(plan.last_number) == first[:-width] + "9" * width


@pytest.mark.parametrize("prefix", ["S", "M444", "XX", "SB-", "", "  ", "SB:", "SB\x00",
                                    "<b>", "A" * 17, 12, None, ["SB"]])
def test_a_prefix_that_cannot_start_a_parent_code_is_refused(prefix):
    with pytest.raises(DomainError) as refused:
        plan_series(prefix, 3, PATTERN, EXAMPLE)
    assert refused.value.code == "invalid_input"
    assert refused.value.status == 422
    assert refused.value.details["field"] == "prefix"


@pytest.mark.parametrize("count", [0, -1, 1001, 10**400, 1.5, "3", True, None, [3]])
def test_a_count_outside_1_to_1000_is_refused(count):
    with pytest.raises(DomainError) as refused:
        plan_series("SB", count, PATTERN, EXAMPLE)
    assert refused.value.code == "invalid_input"
    assert refused.value.details["field"] == "count"


def test_the_smallest_matching_width_is_used():
    assert number_width("SB", r"^SB\d{3,6}$") == 3
    assert number_width("SB", r"^SB\d{2}[A-Z]$") is None


def test_codes_held_by_anyone_are_skipped_in_number_order():
    plan = plan_series("SB", 3, PATTERN, EXAMPLE)
    batch = candidates(plan, 1, 6)
    assert [code for _, code in batch] == [f"SB0000{n}" for n in range(1, 7)]
    assert pick_free(batch, {"SB00002", "SB00003"}, 3) == [
        (1, "SB00001"), (4, "SB00004"), (5, "SB00005")]


def test_candidates_stop_at_the_last_number():
    plan = plan_series("SB", 3, PATTERN, EXAMPLE)
    assert candidates(plan, 99_998, 10) == [(99_998, "SB99998"), (99_999, "SB99999")]
    assert candidates(plan, 100_000, 10) == []
