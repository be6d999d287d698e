"""CreateStateMachine, UpdateStateMachine and ValidateStateMachineDefinition refuse what AWS refuses.

Every rule is sent through the local runtime's Step Functions API (moto with the project's patches, as
`LocalRuntime.start()` installs them) and asserted on AWS's diagnostic code, message and location.

Sources: floci-io/floci issues #2670, #2735, #2745, #2968 and PRs #2699, #2786, #2972, each case measured with
`aws stepfunctions validate-state-machine-definition` (their pinned test,
StepFunctionsValidateStateMachineDefinitionIntegrationTest, records AWS's answers); localstack/localstack
PR #12487 (an AWS CreateStateMachine answer, verbatim); the Step Functions developer guide, connect-emr;
aws/aws-step-functions-data-science-sdk-python#198; the Polyris/polyris CHANGELOG, "Fixed — EMR task deploys".
"Inferred" in a docstring marks a wording or rule no AWS trace pins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from emr_autopilot_devkit.local.moto_patches import asl_validation
from emr_autopilot_devkit.local.moto_patches import sfn as sfn_patches
from emr_autopilot_devkit.local.runtime import ACCOUNT_ID, REGION, REPO_ROOT
from emr_autopilot_devkit.local.template import Resolver, load_template

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/sfn"
SCHEMA = "SCHEMA_VALIDATION_FAILED"
TARGET = "MISSING_TRANSITION_TARGET"


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    sfn_patches.install()  # what LocalRuntime.start() installs, the validation included
    with mock_aws():
        yield boto3.client("stepfunctions", region_name=REGION)


def found(sfn: Any, machine: dict[str, Any], **request: Any) -> list[tuple[str, str, str | None]]:
    """(code, message, location) of each diagnostic ValidateStateMachineDefinition returns."""
    answer = sfn.validate_state_machine_definition(definition=json.dumps(machine), **request)
    assert answer["result"] == ("FAIL" if answer["diagnostics"] else "OK")
    return [(d["code"], d["message"], d.get("location")) for d in answer["diagnostics"]]


def refusal(sfn: Any, machine: dict[str, Any]) -> str:
    """The InvalidDefinition message CreateStateMachine answers with."""
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(name="refused", definition=json.dumps(machine), roleArn=ROLE)
    assert raised.value.response["Error"]["Code"] == "InvalidDefinition"
    return str(raised.value.response["Error"]["Message"])


def jsonata_pass(output: Any) -> dict[str, Any]:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Main",
        "States": {"Main": {"Type": "Pass", "Output": output, "End": True}},
    }


def one_state(state: dict[str, Any], **machine: Any) -> dict[str, Any]:
    return {**machine, "StartAt": "X", "States": {"X": state}}


LAMBDA = "arn:aws:states:::lambda:invoke"
INNER = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


# -- JSONata expressions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a[1,2)", 'Expected "]", got ","'),
        ('"unterminated', "String literal must be terminated by a matching quote"),
        ("1 +", "Unexpected end of expression"),
        ('{"a":}', 'The symbol "}" cannot be used as a unary operator'),
        ("$x :=", "Unexpected end of expression"),
        ('$match("a", /abc', "No terminating / in regular expression"),
    ],
)
def test_an_expression_that_does_not_parse_is_refused_with_the_parsers_message(
    sfn: Any, expression: str, message: str
) -> None:
    """floci#2745 (expressions and AWS's messages measured): INVALID_JSONATA_EXPRESSION, the parser's
    message without its S0xxx code, at the field."""
    # Given a JSONata Pass whose Output does not parse
    machine = jsonata_pass(f"{{% {expression} %}}")
    # When it is validated / Then AWS's code, message and location come back
    assert found(sfn, machine) == [("INVALID_JSONATA_EXPRESSION", message, "/States/Main/Output")]


def test_create_state_machine_quotes_the_diagnostic_in_its_refusal(sfn: Any) -> None:
    """floci#2745, AWS's CreateStateMachine answer verbatim: "Invalid State Machine Definition:
    'INVALID_JSONATA_EXPRESSION: Unexpected end of expression at /States/Main/Output'"."""
    # Given a definition with an expression that does not parse
    machine = jsonata_pass("{% 1 + %}")
    # When it is created / Then InvalidDefinition quotes code, message and location
    assert refusal(sfn, machine) == (
        "Invalid State Machine Definition: 'INVALID_JSONATA_EXPRESSION: Unexpected end of expression "
        "at /States/Main/Output'"
    )


def test_a_bare_top_level_reference_is_refused(sfn: Any) -> None:
    """floci#2670 / PR #2699 (measured): a path that starts from neither $states nor a variable reads a
    context item that does not exist: UNSUPPORTED_JSONATA_EXPRESSION "Reference to 'phone' at the top level
    is not supported." at /States/E/Output/v."""
    # Given a JSONata Pass E whose Output.v reads `phone`
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "E",
        "States": {"E": {"Type": "Pass", "Output": {"v": "{% phone %}"}, "End": True}},
    }
    # When it is created / Then AWS's exact refusal
    assert refusal(sfn, machine) == (
        "Invalid State Machine Definition: 'UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top "
        "level is not supported. at /States/E/Output/v'"
    )


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("$states.input.phone", None),  # $states is always in scope
        ("$phone.number", None),  # a workflow variable
        ("$states.input.items[price > 2].name", None),  # later steps and predicates read the step before
        ("{aaa: 1}", "aaa"),  # an unquoted object key is a name (floci PR #2699, measured)
        ("$map($states.input.a, function($x){ b })", "b"),  # a lambda body keeps its definer's context
        ("$", "$"),  # the context item itself (inferred: the same message as a name)
    ],
)
def test_only_names_read_from_the_top_level_context_are_refused(sfn: Any, expression: str, named: str | None) -> None:
    """floci PR #2699 (both halves measured against AWS): only the first step of a path reads the context."""
    # Given an Output expression
    machine = jsonata_pass(f"{{% {expression} %}}")
    # When it is validated / Then only a top-level name is refused
    expected = (
        []
        if named is None
        else [
            (
                "UNSUPPORTED_JSONATA_EXPRESSION",
                f"Reference to '{named}' at the top level is not supported.",
                "/States/Main/Output",
            )
        ]
    )
    assert found(sfn, machine) == expected


def test_double_dollar_and_error_output_outside_a_catcher_are_refused(sfn: Any) -> None:
    """floci#2745 / PR #2786 (measured): "$$" is never supported; $states.errorOutput exists only in a
    Catch entry's own Output and Assign."""
    # Given $$ and $states.errorOutput in a state's Output, and $states.errorOutput in a catcher's Output
    outside = {
        "QueryLanguage": "JSONata",
        "StartAt": "Main",
        "States": {
            "Main": {"Type": "Pass", "Output": {"a": "{% $$ %}", "b": "{% $states.errorOutput %}"}, "End": True}
        },
    }
    catcher = {
        "QueryLanguage": "JSONata",
        "StartAt": "Main",
        "States": {
            "Main": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Next": "Handled",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": "{% $states.errorOutput %}",
                        "Assign": {"e": "{% $states.errorOutput.Cause %}"},
                        "Next": "Handled",
                    }
                ],
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    # When both are validated
    # Then the first is refused at each field, the second accepted
    assert found(sfn, outside) == [
        ("UNSUPPORTED_JSONATA_EXPRESSION", "Reference to '$$' is not supported.", "/States/Main/Output/a"),
        ("UNSUPPORTED_JSONATA_EXPRESSION", "Field '$states.errorOutput' does not exist.", "/States/Main/Output/b"),
    ]
    assert found(sfn, catcher) == []


def test_strings_in_jsonpath_states_and_in_next_or_comment_are_not_expressions(sfn: Any) -> None:
    """floci PR #2699/#2786 (measured): AWS leaves "{% %}" alone in Comment, Next, Resource and ErrorEquals,
    and a JSONPath state never evaluates JSONata."""
    # Given "{% phone %}" in a JSONPath state's Parameters and in a JSONata state's Comment
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"v": "{% phone %}"}, "Next": "B"},
            "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Comment": "{% phone %}", "End": True},
        },
    }
    # When it is validated / Then nothing is refused
    assert found(sfn, machine) == []


# -- fields a state type does not support (floci#2735 / PR #2786) -----------------------------------------
def test_timeout_seconds_is_supported_only_on_task(sfn: Any) -> None:
    """floci#2735 (measured on all 7 other types): SCHEMA_VALIDATION_FAILED "Field 'TimeoutSeconds' is not
    supported" at /States/<state>; floci PR #2786 pins CreateStateMachine's message."""
    # Given a Parallel with TimeoutSeconds, and a Task with it
    parallel = one_state({"Type": "Parallel", "TimeoutSeconds": 5, "Branches": [INNER], "End": True})
    task = one_state({"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 5, "End": True})
    # When both are created / validated
    # Then only the Parallel is refused, at the state
    assert refusal(sfn, parallel) == (
        "Invalid State Machine Definition: "
        "'SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported at /States/X'"
    )
    assert found(sfn, task) == []


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X"}], "End": True},
        {"Type": "Wait", "Seconds": 1, "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": True},
        {"Type": "Succeed", "Retry": [{"ErrorEquals": ["States.ALL"]}]},
        {
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X"}],
            "End": True,
        },
    ],
)
def test_catch_and_retry_are_refused_outside_task_parallel_and_map(sfn: Any, state: dict[str, Any]) -> None:
    """floci#2735 (measured): Catch and Retry only on Task, Parallel and Map, in either query language."""
    # Given a state of another type carrying Catch or Retry
    field = "Catch" if "Catch" in state else "Retry"
    # When it is validated / Then the field is refused at the state
    assert found(sfn, one_state(state)) == [(SCHEMA, f"Field '{field}' is not supported", "/States/X")]


def test_catch_and_retry_are_accepted_on_task_parallel_and_map(sfn: Any) -> None:
    """floci PR #2786 (measured): the control of the test above."""
    # Given Catch and Retry on a Task, a Parallel and a Map
    handlers = {"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "Retry": [{"ErrorEquals": ["States.ALL"]}]}
    machine = {
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": LAMBDA, **handlers, "Next": "Par"},
            "Par": {"Type": "Parallel", "Branches": [INNER], **handlers, "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": INNER, **handlers, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    # When it is validated / Then nothing is refused
    assert found(sfn, machine) == []


def test_several_unsupported_fields_come_back_in_aws_order(sfn: Any) -> None:
    """floci PR #2786 pins TimeoutSeconds, Catch, Retry whatever the definition's order; an unknown field
    (a misspelt Parameters) gets the same message (inferred from the ASL spec's field table)."""
    # Given a Pass with Retry, TimeoutSeconds, Catch and a misspelt field, in that order
    state = {
        "Type": "Pass",
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
        "TimeoutSeconds": 5,
        "Parameter": {},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X"}],
        "End": True,
    }
    # When it is validated / Then each is refused once, in AWS's order
    assert [message for _, message, _ in found(sfn, one_state(state))] == [
        "Field 'TimeoutSeconds' is not supported",
        "Field 'Catch' is not supported",
        "Field 'Retry' is not supported",
        "Field 'Parameter' is not supported",
    ]


# -- QueryLanguage (floci#2968 / PR #2972, all measured) --------------------------------------------------
def only_for(language: str, field: str) -> str:
    """AWS's message for a field of the other query language (floci#2968, verbatim)."""
    state = "JSONPath" if language == "JSONata" else "JSONata"
    opening = f"The QueryLanguage is set to '{state}', but field '{field}' is only supported"
    return f"{opening} for the '{language}' QueryLanguage"


def test_a_jsonata_only_field_on_a_jsonpath_state_is_refused_at_the_state(sfn: Any) -> None:
    """floci#2968: "The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only supported for the
    'JSONata' QueryLanguage" at /States/T; Assign is not JSONata-only (measured there too)."""
    # Given a JSONPath Task with Arguments, and a JSONPath Pass with Assign
    task = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"p": 1}, "End": True}}}
    assign = one_state({"Type": "Pass", "Assign": {"counter": 1}, "End": True})
    # When both are validated / Then Arguments is refused at the state, Assign accepted
    assert found(sfn, task) == [(SCHEMA, only_for("JSONata", "Arguments"), "/States/T")]
    assert found(sfn, assign) == []


def test_a_jsonpath_only_field_on_a_jsonata_state_is_refused_at_the_state(sfn: Any) -> None:
    """floci PR #2972: three JSONPath fields on a JSONata Pass, reported InputPath, OutputPath, ResultPath."""
    # Given a JSONata machine whose Pass has InputPath, OutputPath and ResultPath
    state = {"Type": "Pass", "InputPath": "$.a", "OutputPath": "$.b", "ResultPath": "$.c", "End": True}
    # When it is validated / Then each is refused at the state
    assert found(sfn, one_state(state, QueryLanguage="JSONata")) == [
        (
            SCHEMA,
            only_for("JSONPath", f),
            "/States/X",
        )
        for f in ("InputPath", "OutputPath", "ResultPath")
    ]


def test_a_maps_query_language_does_not_reach_its_item_processor(sfn: Any) -> None:
    """floci#2968: states inside an ItemProcessor inherit the machine's language, not the Map's; the
    diagnostic points at /States/M/ItemProcessor/States/P."""
    # Given a JSONPath machine, a Map declaring JSONata, and a bare Pass inside carrying Output
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Output": {"d": "{% $states.input.n * 2 %}"}, "End": True}},
                },
                "End": True,
            }
        },
    }
    # When it is validated / Then the inner Pass's Output is refused
    assert found(sfn, machine) == [
        (
            SCHEMA,
            only_for("JSONata", "Output"),
            "/States/M/ItemProcessor/States/P",
        )
    ]


def test_a_state_cannot_revert_a_jsonata_machine_to_jsonpath(sfn: Any) -> None:
    """statemachine-structure: "You cannot revert a top-level JSONata-based state machine to a mix of JSONata
    and JSONPath states"; floci#2968 measured the wording, and that it is the only diagnostic."""
    # Given a JSONata machine with a state declaring JSONPath (and JSONata's Output)
    machine = one_state(
        {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": {"v": "{% 1 %}"}, "End": True}, QueryLanguage="JSONata"
    )
    # When it is validated / Then the downgrade alone is refused, at the state
    assert found(sfn, machine) == [
        (SCHEMA, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", "/States/X")
    ]


@pytest.mark.parametrize(
    ("state", "location"),
    [
        (
            {"Type": "Map", "ItemProcessor": {**INNER, "QueryLanguage": "JSONata"}, "End": True},
            "/States/X/ItemProcessor",
        ),
        ({"Type": "Map", "Iterator": {**INNER, "QueryLanguage": "JSONata"}, "End": True}, "/States/X/Iterator"),
        (
            {"Type": "Parallel", "Branches": [{**INNER, "QueryLanguage": "JSONata"}], "End": True},
            "/States/X/Branches[0]",
        ),
    ],
)
def test_item_processor_iterator_and_branches_cannot_declare_query_language(
    sfn: Any, state: dict[str, Any], location: str
) -> None:
    """floci#2968 (all three measured): they are not states; "Field 'QueryLanguage' is not supported"."""
    # Given a processor or branch declaring QueryLanguage
    # When it is validated / Then it is refused at the processor or branch
    assert found(sfn, one_state(state)) == [(SCHEMA, "Field 'QueryLanguage' is not supported", location)]


def test_a_query_language_outside_the_enum_is_refused_at_the_field(sfn: Any) -> None:
    """floci PR #2972 (measured): "Value should be one of the following: [JSONPath, JSONata]" at the field,
    and a wrong-case value still makes the state JSONata (so its InputPath is refused too, first)."""
    # Given a JSONPath machine whose Pass declares "jsonata" and carries InputPath
    machine = one_state({"Type": "Pass", "QueryLanguage": "jsonata", "InputPath": "$.a", "End": True})
    # When it is validated / Then both diagnostics, in AWS's order
    assert found(sfn, machine) == [
        (
            SCHEMA,
            only_for("JSONPath", "InputPath"),
            "/States/X",
        ),
        (SCHEMA, "Value should be one of the following: [JSONPath, JSONata]", "/States/X/QueryLanguage"),
    ]


# -- the graph (floci#2735 / PR #2786, all measured) ---------------------------------------------------------
def test_a_workflow_without_a_terminal_state_is_refused_without_a_location(sfn: Any) -> None:
    """floci PR #2786: MISSING_END_STATE "Workflow has no terminal state", no location, and it suppresses the
    unreachable-state walk; CreateStateMachine renders the missing location as "null" (floci's pinned test)."""
    # Given a loop A -> B -> A and a state nothing routes to
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"},
            "Unused": {"Type": "Pass", "Next": "A"},
        },
    }
    # When it is validated and created / Then one diagnostic, without a location
    assert found(sfn, machine) == [("MISSING_END_STATE", "Workflow has no terminal state", None)]
    assert (
        refusal(sfn, machine)
        == "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at null'"
    )


def test_a_nested_loop_without_a_terminal_state_is_accepted(sfn: Any) -> None:
    """floci PR #2786 (measured): MISSING_END_STATE applies to the top level only."""
    # Given a Map whose ItemProcessor loops A -> B -> A
    loop = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}
    machine = one_state({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": loop, "End": True})
    # When it is validated / Then it is accepted
    assert found(sfn, machine) == []


def test_a_state_nothing_routes_to_is_refused(sfn: Any) -> None:
    """floci PR #2786: MISSING_TRANSITION_TARGET 'State "C" is not reachable.' at the state, at any depth."""
    # Given an unreachable terminal C at the top level and an unreachable Ghost inside a branch
    machine = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "W",
                        "States": {"W": {"Type": "Pass", "End": True}, "Ghost": {"Type": "Pass", "End": True}},
                    }
                ],
                "End": True,
            },
            "C": {"Type": "Pass", "End": True},
        },
    }
    # When it is validated / Then both are refused where they are
    assert found(sfn, machine) == [
        (TARGET, 'State "C" is not reachable.', "/States/C"),
        (TARGET, 'State "Ghost" is not reachable.', "/States/P/Branches[0]/States/Ghost"),
    ]


def test_a_transition_naming_no_state_is_refused_where_it_is_written(sfn: Any) -> None:
    """floci PR #2786: "Missing 'Next' target: <name>" (the word Next for every position) at .../Next,
    .../Choices[i]/Next, .../Default and .../Catch[i]/Next; listed before MISSING_END_STATE."""
    # Given dangling targets in each position
    machine = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "G1"}], "Default": "T"},
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "G2"}],
                "Next": "G3",
            },
            "D": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "C"}], "Default": "G4"},
        },
    }
    # When it is validated
    diagnostics = found(sfn, machine)
    # Then each dangling name is refused at its own field (their order within one state is not measured)
    assert sorted(diagnostics[:4]) == [
        (TARGET, "Missing 'Next' target: G1", "/States/C/Choices[0]/Next"),
        (TARGET, "Missing 'Next' target: G2", "/States/T/Catch[0]/Next"),
        (TARGET, "Missing 'Next' target: G3", "/States/T/Next"),
        (TARGET, "Missing 'Next' target: G4", "/States/D/Default"),
    ]
    assert diagnostics[-1] == ("MISSING_END_STATE", "Workflow has no terminal state", None)


def test_a_start_at_naming_no_state_is_refused_and_leaves_every_state_unreachable(sfn: Any) -> None:
    """floci PR #2786 (measured): MISSING_TRANSITION_TARGET at /StartAt (or the container's own StartAt),
    then every state of that container is not reachable."""
    # Given a machine and a Map processor whose StartAt names no state
    machine = {
        "StartAt": "Nope",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Gone", "States": {"A": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    # When it is validated / Then both StartAt fields are refused and the states they strand reported
    assert found(sfn, machine) == [
        (TARGET, "Missing 'Next' target: Nope", "/StartAt"),
        (TARGET, "Missing 'Next' target: Gone", "/States/M/ItemProcessor/StartAt"),
        (TARGET, 'State "M" is not reachable.', "/States/M"),
        (TARGET, 'State "A" is not reachable.', "/States/M/ItemProcessor/States/A"),
    ]


# -- the optimized EMR integration's parameters (arn:aws:states:::elasticmapreduce:*) ---------------------
def emr_task(resource: str, payload: Any, *, jsonata: bool = False) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": f"arn:aws:states:::elasticmapreduce:{resource}", "End": True}
    if jsonata:
        state["QueryLanguage"] = "JSONata"
    if payload is not None:
        state["Arguments" if jsonata else "Parameters"] = payload
    return {"StartAt": "Emr", "States": {"Emr": state}}


def missing(*fields: str, where: str) -> list[tuple[str, str, str]]:
    return [(SCHEMA, f"The field '{field}' is required but was missing", where) for field in fields]


STEP_FIELDS = ("Step.Name", "Step.HadoopJarStep", "Step.HadoopJarStep.Jar")


@pytest.mark.parametrize(
    ("payload", "jsonata"),
    [
        ({"ClusterId": "{% $states.input.cluster %}", "Step": "{% $states.input.step %}"}, True),
        ({"ClusterId.$": "$.cluster", "Step.$": "$.step"}, False),
    ],
)
def test_an_add_step_whose_step_is_one_expression_is_refused(sfn: Any, payload: dict[str, Any], jsonata: bool) -> None:
    """Polyris CHANGELOG, "Fixed — EMR task deploys": an addStep.sync whose Step was one JSONata expression failed
    sam deploy with "SCHEMA_VALIDATION_FAILED: Step.Name / Step.HadoopJarStep / Step.HadoopJarStep.Jar required
    but missing". A JSONPath "Step.$" hides them the same way (inferred). Wording and location inferred."""
    # Given an addStep.sync whose Step comes whole from the input
    machine = emr_task("addStep.sync", payload, jsonata=jsonata)
    # When it is validated / Then StepConfig's required members (botocore) are reported missing
    assert found(sfn, machine) == missing(*STEP_FIELDS, where=f"/States/Emr/{'Arguments' if jsonata else 'Parameters'}")


def test_a_required_scalar_may_come_from_the_input(sfn: Any) -> None:
    """connect-emr's own addStep example uses "ClusterId.$"; the Step's required members are literal."""
    # Given connect-emr's Step_One sample, and its JSONata twin
    step = {
        "Name": "The first step",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args.$": "$.args"},
    }
    twin = {
        "Name": "{% $states.input.name %}",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": "{% $states.input.args %}"},
    }
    # When both are validated / Then both are accepted
    assert found(sfn, emr_task("addStep.sync", {"ClusterId.$": "$.ClusterId", "Step": step})) == []
    assert (
        found(sfn, emr_task("addStep.sync", {"ClusterId": "{% $states.input.c %}", "Step": twin}, jsonata=True)) == []
    )


def test_a_create_cluster_whose_request_is_one_expression_is_refused(sfn: Any) -> None:
    """connect-emr, createCluster: "the same request syntax as runJobFlow" (botocore: Name and Instances
    required) and "Instances.KeepJobFlowAliveWhenNoSteps is mandatory"; none is visible in an opaque
    Arguments (Polyris's rule, inferred for createCluster)."""
    # Given a createCluster.sync whose whole Arguments is one expression (the project's ASL before issue 15)
    machine = emr_task("createCluster.sync", "{% $states.input.cluster_request %}", jsonata=True)
    # When it is validated / Then the three required fields are missing
    assert found(sfn, machine) == missing(
        "Name", "Instances", "Instances.KeepJobFlowAliveWhenNoSteps", where="/States/Emr/Arguments"
    )


@pytest.mark.parametrize("keep_alive", [False, "{% true %}"])
def test_keep_job_flow_alive_must_be_a_literal_true(sfn: Any, keep_alive: Any) -> None:
    """connect-emr, createCluster: KeepJobFlowAliveWhenNoSteps "must have the Boolean value TRUE". The enum
    wording (floci#2968's "Value should be one of the following: [...]") and location are inferred."""
    # Given Instances with KeepJobFlowAliveWhenNoSteps false, or computed
    payload = {
        "Name": "c",
        "Instances": {"KeepJobFlowAliveWhenNoSteps": keep_alive, "InstanceFleets": "{% $states.input.fleets %}"},
    }
    # When it is validated / Then the value is refused at the field
    assert found(sfn, emr_task("createCluster", payload, jsonata=True)) == [
        (
            SCHEMA,
            "Value should be one of the following: [true]",
            "/States/Emr/Arguments/Instances/KeepJobFlowAliveWhenNoSteps",
        )
    ]


def test_unknown_fields_and_steps_are_refused_at_the_parameters(sfn: Any) -> None:
    """data-science-sdk-python#198: 'The field "SNSTopicArn" is not supported by Step Functions
    /States/StartDocumentTextDetection/Parameters' (a nested field, located at Parameters). connect-emr,
    createCluster: "the field Steps is not allowed"."""
    # Given a createCluster with Steps, an unknown top-level field and an unknown field in an instance group
    payload = {
        "Name": "c",
        "Steps": [],
        "Foo": 1,
        "Instances": {
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1, "Colour": "red"}
            ],
        },
    }
    # When it is validated / Then each is refused by name at Parameters
    assert found(sfn, emr_task("createCluster.sync", payload)) == [
        (SCHEMA, f'The field "{name}" is not supported by Step Functions', "/States/Emr/Parameters")
        for name in ("Steps", "Foo", "Colour")
    ]


@pytest.mark.parametrize(
    ("resource", "payload", "absent"),
    [
        ("cancelStep", {"ClusterId.$": "$.c"}, ("StepId",)),
        ("terminateCluster.sync", None, ("ClusterId",)),
        ("setClusterTerminationProtection", {"ClusterId.$": "$.c"}, ("TerminationProtected",)),
        (
            "modifyInstanceGroupByName",
            {"ClusterId": "j-1", "InstanceGroup": {"InstanceCount": 2}},
            ("InstanceGroupName",),
        ),
        ("modifyInstanceFleetByName", {"ClusterId": "j-1", "InstanceFleetName": "core"}, ("InstanceFleet",)),
    ],
)
def test_each_emr_api_requires_its_own_fields(
    resource: str, payload: dict[str, Any] | None, absent: tuple[str, ...]
) -> None:
    """connect-emr, table "Amazon EMR Service Integration APIs" (request shapes) and its examples; botocore's
    EMR model for the shapes they wrap. Checked directly, without moto's parser: these rules are this
    module's, whatever the run-time integration supports."""
    # Given an EMR task missing a field its API requires
    machine = emr_task(resource, payload)
    # When its definition is checked / Then that field is reported missing
    assert asl_validation.validate_definition(json.dumps(machine)) == [
        asl_validation.Diagnostic(SCHEMA, f"The field '{name}' is required but was missing", "/States/Emr/Parameters")
        for name in absent
    ]


def test_connect_emr_samples_pass() -> None:
    """connect-emr's seven example Task states, as published, pass every check."""
    # Given the samples' Parameters
    fleet = {
        "InstanceFleetType": "MASTER",
        "Name": "MASTER",
        "TargetOnDemandCapacity": 1,
        "InstanceTypeConfigs": [{"InstanceType": "m4.xlarge"}],
    }
    samples = {
        "createCluster.sync": {
            "Name": "MyWorkflowCluster",
            "VisibleToAllUsers": True,
            "ReleaseLabel": "emr-5.28.0",
            "Applications": [{"Name": "Hive"}],
            "ServiceRole": "EMR_DefaultRole",
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "LogUri": "s3n://aws-logs-123456789012-us-east-1/elasticmapreduce/",
            "Instances": {
                "KeepJobFlowAliveWhenNoSteps": True,
                "InstanceFleets": [fleet, {**fleet, "InstanceFleetType": "CORE", "Name": "CORE"}],
            },
        },
        "setClusterTerminationProtection": {"ClusterId.$": "$.ClusterId", "TerminationProtected": True},
        "addStep.sync": {
            "ClusterId.$": "$.ClusterId",
            "Step": {
                "Name": "The first step",
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["hive-script", "--run-hive-script"]},
            },
        },
        "cancelStep": {"ClusterId.$": "$.ClusterId", "StepId.$": "$.AddStepsResult.StepId"},
        "terminateCluster.sync": {"ClusterId.$": "$.ClusterId"},
        "modifyInstanceGroupByName": {
            "ClusterId": "j-1234567890123",
            "InstanceGroupName": "MyCoreGroup",
            "InstanceGroup": {"InstanceCount": 8},
        },
        "modifyInstanceFleetByName": {
            "ClusterId": "j-1234567890123",
            "InstanceFleetName": "MyCoreFleet",
            "InstanceFleet": {"TargetOnDemandCapacity": 8, "TargetSpotCapacity": 0},
        },
    }
    for resource, payload in samples.items():
        # When each is checked / Then nothing is refused
        assert asl_validation.validate_definition(json.dumps(emr_task(resource, payload))) == [], resource


# -- the API surface ------------------------------------------------------------------------------------------
def test_update_state_machine_refuses_too(sfn: Any) -> None:
    """floci PR #2699: AWS refuses at CreateStateMachine, UpdateStateMachine and ValidateStateMachineDefinition
    alike."""
    # Given a stored state machine
    arn = sfn.create_state_machine(name="updatable", definition=json.dumps(INNER), roleArn=ROLE)["stateMachineArn"]
    # When it is updated with a Pass carrying TimeoutSeconds
    with pytest.raises(ClientError) as raised:
        sfn.update_state_machine(
            stateMachineArn=arn, definition=json.dumps(one_state({"Type": "Pass", "TimeoutSeconds": 1, "End": True}))
        )
    # Then InvalidDefinition, and the stored definition is unchanged
    assert raised.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Field 'TimeoutSeconds' is not supported at /States/X" in raised.value.response["Error"]["Message"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == INNER


def test_several_diagnostics_are_joined_each_with_its_code(sfn: Any) -> None:
    """localstack PR #12487 quotes AWS: "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing
    'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at
    /States/pass2'"."""
    # Given that very definition
    machine = {
        "StartAt": "pass1",
        "States": {"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": {"Type": "Pass", "End": True}},
    }
    # When it is created / Then AWS's message, byte for byte
    assert refusal(sfn, machine) == (
        "Invalid State Machine Definition: "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, "
        'MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2\''
    )


def test_validate_state_machine_definition_answers_in_the_api_shape(sfn: Any) -> None:
    """API_ValidateStateMachineDefinition: result OK|FAIL, diagnostics {severity, code, message, location?},
    truncated when maxResults cuts the list (floci PR #2786's maxResults test)."""
    # Given a JSONata Pass with three JSONPath-only fields, and a valid machine
    three = one_state(
        {"Type": "Pass", "InputPath": "$.a", "OutputPath": "$.b", "ResultPath": "$.c", "End": True},
        QueryLanguage="JSONata",
    )
    # When both are validated, the first with maxResults 1
    cut = sfn.validate_state_machine_definition(definition=json.dumps(three), maxResults=1)
    fine = sfn.validate_state_machine_definition(definition=json.dumps(INNER))
    # Then the first is FAIL, one ERROR diagnostic, truncated; the second OK with none
    assert (cut["result"], len(cut["diagnostics"]), cut["truncated"], cut["diagnostics"][0]["severity"]) == (
        "FAIL",
        1,
        True,
        "ERROR",
    )
    assert (fine["result"], fine["diagnostics"], fine["truncated"]) == ("OK", [], False)


def test_what_motos_parser_refuses_is_answered_as_invalid_definition(sfn: Any, monkeypatch: Any) -> None:
    """API_CreateStateMachine, Errors: InvalidDefinition. moto's parser refused with an empty error code
    ("UnknownError") before asl_validation.install(); ValidateStateMachineDefinition now says FAIL for it too."""
    from moto.core.config import default_user_config

    # Given the executing backend the local runtime uses, and a Task on a service nothing integrates
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    machine = one_state({"Type": "Task", "Resource": "arn:aws:states:::nosuchservice:doIt", "End": True})
    # When it is created and validated
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(name="unparsed", definition=json.dumps(machine), roleArn=ROLE)
    # Then the code is InvalidDefinition, and validation agrees
    assert raised.value.response["Error"]["Code"] == "InvalidDefinition"
    assert [code for code, _, _ in found(sfn, machine)] == [SCHEMA]


# -- the project's own state machines ---------------------------------------------------------------------
def deployed_definition(logical_id: str) -> str:
    """The definition as LocalRuntime.deploy() sends it: DefinitionUri with DefinitionSubstitutions resolved."""
    template = load_template(REPO_ROOT / "template.yaml")
    resolver = Resolver(
        parameters={}, pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}
    )
    for logical, resource in template["Resources"].items():
        service = {"AWS::Serverless::Function": "lambda", "AWS::SNS::Topic": "sns"}.get(resource["Type"], "local")
        resolver.refs[logical] = resolver.attributes[(logical, "Arn")] = (
            f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{logical}"
        )
    props = template["Resources"][logical_id]["Properties"]
    definition = (REPO_ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
    for key, value in resolver.resolve(props.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    assert not re.findall(r"\$\{[^}]+\}", definition)
    return definition


@pytest.mark.parametrize("logical_id", ["TransientClusterPipeline", "LivyBatchPipeline"])
def test_the_projects_state_machines_pass_every_check(sfn: Any, logical_id: str) -> None:
    """Every rule above, applied to statemachines/*.asl.json as the local runtime deploys them."""
    # Given the deployed definition
    definition = deployed_definition(logical_id)
    # When it is validated / Then AWS would store it
    answer = sfn.validate_state_machine_definition(definition=definition)
    assert (answer["result"], answer["diagnostics"]) == ("OK", [])
