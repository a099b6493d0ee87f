"""The service end to end on one dispatch: create, load, dispatch, return (the API tests
cover every row of DESIGN 8.2)."""

from app.dispatch import services as dispatching
from app.dispatch.queries import read_dispatch
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.helpers import check_invariants


def test_a_dispatch_loaded_dispatched_and_a_return(supervisor):
    for code in ("SB00001", "SB00002"):
        complete_parent(supervisor, code, children=3)
    new_dispatch(supervisor, "D000001", expected=2)

    assert load(supervisor, "D000001", "SB00001").result == "loaded"
    assert load(supervisor, "D000001", "sb00002").result == "loaded"
    assert load(supervisor, "D000001", "SB00002").result == "already_loaded"
    run(dispatching.dispatch_out, supervisor, "D000001")
    run(dispatching.return_parent, supervisor, "D000001", "SB00002", "torn sack")

    data = read_dispatch("d000001")
    assert data["status"] == "dispatched"
    assert data["parents"] == ["SB00001"]
    assert data["returned"] == ["SB00002"]
    assert (data["parents_loaded"], data["children"], data["weight_kg"]) == (1, 3, 3)
    assert data["expected_weight_kg"] == 60
    assert [e["action"] for e in data["events"]] == [
        "dispatch_load", "dispatch_load", "dispatch_load", "dispatched", "returned"]
    check_invariants()
