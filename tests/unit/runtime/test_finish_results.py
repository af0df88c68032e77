"""What Finish reads of a run's state: the actions' results and failures, those of Parallel branches
included, in the shape the machines keep (`parallel.<key>.actions[i]`, `.parallel[i]`, selected by
the Parallel's ResultSelector) and in the shape of machines compiled before (each branch's state)."""

from __future__ import annotations

from approvals.machine.finish import _run_results


def test_branch_results_selected_by_the_parallel_are_found_nested_too() -> None:
    state = {
        "input": {"vendor": "x" * 1000}, "actions": {"create_po": {"value": 1}},
        "parallel": {"reviews": {
            "actions": [{"notify_vendor": {"value": 2}}, {}],
            "parallel": [{}, {"inner": {"actions": [{"deep": {"value": 3}}], "parallel": [{}]}}],
        }},
        "failures": {"later": {"Error": "E"}},
    }
    found = _run_results(state)
    assert found["actions"] == {"create_po": {"value": 1}, "notify_vendor": {"value": 2}, "deep": {"value": 3}}
    assert found["failures"] == {"later": {"Error": "E"}}


def test_the_shape_of_machines_compiled_before_is_still_read() -> None:
    state = {"parallel": {"reviews": [{"input": {}, "actions": {"notify_vendor": {"value": 2}}}, {"input": {}}]}}
    assert _run_results(state)["actions"] == {"notify_vendor": {"value": 2}}


def test_a_malformed_parallel_result_is_no_result() -> None:
    for kept in (None, 3, "x", {"actions": "no"}, {"actions": [1, "a"]}):
        assert _run_results({"parallel": {"p": kept}})["actions"] == {}
