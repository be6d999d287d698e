"""Step Functions' own error semantics in the local runtime's interpreter (not the EMR integration's)."""

from __future__ import annotations

from typing import Any

from tests.helpers.conformance import Runner


def _caught_by_states_all(branch_state: dict[str, Any]) -> dict[str, Any]:
    """A Parallel state runs one failing state; its Catch on States.ALL leads to Caught."""
    return {
        "StartAt": "Try",
        "States": {
            "Try": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Fails", "States": {"Fails": {**branch_state, "End": True}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_a_failing_jsonata_expression_is_a_catchable_query_evaluation_error(runtime: Runner) -> None:
    """Step Functions guide, concepts-error-handling, error names: "States.QueryEvaluationError: Query evaluation
    failed in a JSONata expression", and States.ALL matches any known error name except States.Runtime and
    States.DataLimitExceeded, so a Catch on States.ALL handles it."""
    # Given a JSONata state whose expression raises while it is evaluated
    failing = {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $error('the input has no rows') %}"}

    # When it runs under a Catch on States.ALL
    run = runtime.run(_caught_by_states_all(failing), {"rows": []})

    # Then the Catch handled it, as States.QueryEvaluationError with the expression's message
    assert run.status == "SUCCEEDED", run.execution
    caught = run.output["caught"]
    assert caught["Error"] == "States.QueryEvaluationError"
    assert "the input has no rows" in caught["Cause"]


def test_states_all_does_not_catch_states_runtime(runtime: Runner) -> None:
    """Step Functions guide, concepts-error-handling: States.ALL "cannot catch the States.DataLimitExceeded terminal
    error or Runtime error types"; States.Runtime errors "aren't retriable and will always cause the execution to
    fail". An InputPath that selects nothing is a States.Runtime error (same page, States.Runtime)."""
    # Given a JSONPath state whose InputPath names a field the input does not have
    failing = {"Type": "Pass", "InputPath": "$.not_there"}

    # When it runs under a Catch on States.ALL
    run = runtime.run(_caught_by_states_all(failing), {"here": 1})

    # Then the execution fails with States.Runtime; the Catch did not run
    assert run.status == "FAILED", run.execution
    assert run.execution.get("error") == "States.Runtime"
    entered = [
        event["stateEnteredEventDetails"]["name"] for event in run.history if "stateEnteredEventDetails" in event
    ]
    assert "Fails" in entered
    assert "Caught" not in entered
