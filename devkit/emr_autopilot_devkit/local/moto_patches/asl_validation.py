"""Create-time validation of state machine definitions: the local runtime refuses what AWS refuses.

AWS checks a definition before it stores it, at CreateStateMachine, UpdateStateMachine and
ValidateStateMachineDefinition alike (floci-io/floci PR #2699, measured against AWS). moto 5.2.5 only
checks that its parser can read the definition, and does not route ValidateStateMachineDefinition at
all, so without this the local runtime stored definitions that `sam deploy` then fails on.

Each check is one function returning `Diagnostic`s (code, message, location), the shape AWS's
ValidateStateMachineDefinition returns. CreateStateMachine/UpdateStateMachine answer InvalidDefinition with
"Invalid State Machine Definition: '<CODE>: <message> at <location>, <CODE>: ...'" (see `refusal`).

Sources (every check names its own):
- floci-io/floci issues #2670, #2735, #2745, #2968 and PRs #2699, #2786, #2972, whose author ran each case
  through `aws stepfunctions validate-state-machine-definition`; their pinned test
  StepFunctionsValidateStateMachineDefinitionIntegrationTest records AWS's codes, messages and locations;
- localstack/localstack PR #12487 (an AWS CreateStateMachine answer, verbatim);
- the Amazon States Language spec (states-language.net, field lists per state type) and AWS's ASL JSON
  schema (aws/amazon-states-language-service, src/json-schema/partial/*.json);
- Step Functions developer guide, connect-emr (the optimized EMR integration's request shapes), with
  botocore's EMR model for the shapes it wraps (emr_autopilot.emr_requests holds that table);
- aws/aws-step-functions-data-science-sdk-python#198 and the Polyris/polyris CHANGELOG ("Fixed — EMR task
  deploys"): AWS's deploy-time refusals of integration parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from botocore.model import Shape

SCHEMA: Final = "SCHEMA_VALIDATION_FAILED"
MISSING_TARGET: Final = "MISSING_TRANSITION_TARGET"
MISSING_END: Final = "MISSING_END_STATE"
INVALID_JSONATA: Final = "INVALID_JSONATA_EXPRESSION"
UNSUPPORTED_JSONATA: Final = "UNSUPPORTED_JSONATA_EXPRESSION"

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: str | None = None

    def __str__(self) -> str:
        # "<CODE>: <message> at <location>": floci#2745 and localstack PR #12487 quote AWS's CreateStateMachine
        # answers in this form. A diagnostic without a location reads "at null" (floci's pinned test for
        # MISSING_END_STATE; inferred to be AWS's Java rendering of a null location).
        return f"{self.code}: {self.message} at {self.location if self.location is not None else 'null'}"


def refusal(diagnostics: list[Diagnostic]) -> str:
    """The InvalidDefinition message: every diagnostic, joined with ", " (localstack PR #12487 quotes AWS:
    "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at
    /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2'")."""
    return "Invalid State Machine Definition: '" + ", ".join(str(d) for d in diagnostics) + "'"


def validate_definition(definition: str) -> list[Diagnostic]:
    """Everything AWS would refuse in `definition`, in the order AWS lists it where that is known."""
    try:
        machine = json.loads(definition)
    except ValueError as error:
        # ValidateStateMachineDefinitionDiagnostic: "INVALID_JSON_DESCRIPTION: JSON syntax problem found."
        # AWS's own parser message differs (inferred); the code is AWS's.
        return [Diagnostic("INVALID_JSON_DESCRIPTION", str(error))]
    if not isinstance(machine, Mapping) or not isinstance(machine.get("States"), Mapping):
        return []  # moto's ASL parser refuses these itself
    machine_jsonata = _effective_language(machine, inherited_jsonata=False)
    diagnostics = check_query_language_value(machine, "")
    containers = list(_containers(machine))
    for container in containers:
        for name, state in container.states.items():
            diagnostics += check_state(state, f"{container.pointer}/States/{name}", machine_jsonata)
    for container in containers:
        diagnostics += check_transition_targets(container)
    ends = check_terminal_state(machine)
    for container in containers:
        if not (ends and container.pointer == ""):  # MISSING_END_STATE suppresses the top-level walk (floci#2786)
            diagnostics += check_reachability(container)
    return diagnostics + ends


# -- containers: the machine, every Map's ItemProcessor/Iterator and every Parallel branch -----------------
@dataclass(frozen=True)
class Container:
    states: Mapping[str, Any]
    start_at: Any
    pointer: str  # "" for the machine, e.g. "/States/M/ItemProcessor" or "/States/P/Branches[0]"


def _containers(holder: Mapping[str, Any], pointer: str = "") -> Iterator[Container]:
    states = holder.get("States")
    if not isinstance(states, Mapping):
        return
    yield Container(states, holder.get("StartAt"), pointer)
    for name, state in states.items():
        for nested, nested_pointer, _ in _nested(state, f"{pointer}/States/{name}"):
            yield from _containers(nested, nested_pointer)


# ItemProcessor/Iterator and a Parallel branch are not states: they carry no QueryLanguage (floci#2968,
# measured: "Field 'QueryLanguage' is not supported" at /States/M/ItemProcessor, /States/M/Iterator,
# /States/PAR/Branches[0]). Their other fields per the ASL spec (inferred: the same message for any other).
_PROCESSOR_FIELDS: Final = ("Comment", "StartAt", "States", "ProcessorConfig")
_BRANCH_FIELDS: Final = ("Comment", "StartAt", "States")


def _nested(state: Any, pointer: str) -> Iterator[tuple[Mapping[str, Any], str, tuple[str, ...]]]:
    """A state's nested containers, each with its location and the fields it may have."""
    if not isinstance(state, Mapping):
        return
    for field in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(field), Mapping):
            yield state[field], f"{pointer}/{field}", _PROCESSOR_FIELDS
    branches = state.get("Branches")
    if isinstance(branches, list):
        for index, branch in enumerate(branches):
            if isinstance(branch, Mapping):
                yield branch, f"{pointer}/Branches[{index}]", _BRANCH_FIELDS


# -- one state ------------------------------------------------------------------------------------------
def check_state(state: Any, pointer: str, machine_jsonata: bool) -> list[Diagnostic]:
    if not isinstance(state, Mapping) or state.get("Type") not in STATE_FIELDS:
        return []  # a state without a known Type: moto's ASL parser refuses it
    jsonata = _effective_language(state, inherited_jsonata=machine_jsonata)
    diagnostics = check_supported_fields(state, pointer)
    downgrade = check_query_language_downgrade(state, pointer, machine_jsonata)
    # AWS reports the downgrade alone, not the other-language fields it would imply (floci#2968/#2972).
    diagnostics += downgrade or check_query_language_fields(state, pointer, jsonata)
    diagnostics += check_query_language_value(state, pointer)
    if jsonata:
        diagnostics += check_jsonata_expressions(state, pointer)
    diagnostics += check_emr_integration(state, pointer, jsonata)
    diagnostics += check_emr_serverless_integration(state, pointer, jsonata)
    diagnostics += check_emr_containers_integration(state, pointer, jsonata)
    for processor, processor_pointer, allowed in _nested(state, pointer):
        diagnostics += check_processor_fields(processor, processor_pointer, allowed)
    return diagnostics


# Fields per state type: Amazon States Language spec (states-language.net, "Appendix B: List of fields per
# state type") with the JSONata fields (Arguments, Output, Assign, Items) of AWS's ASL schema
# (amazon-states-language-service src/json-schema/partial/*_state.json). The schema itself is open
# (no additionalProperties: false, and it omits Pass's Result, Task's Credentials), so it cannot be
# used as the closed list. Measured on AWS (floci#2735, PR #2786): TimeoutSeconds only on Task;
# Catch and Retry only on Task, Parallel and Map; other fields by the spec's table (inferred that AWS
# refuses every field outside it with the same message).
_COMMON: Final = "Type Comment QueryLanguage "
_IO: Final = "InputPath OutputPath Output "
_TRANSITION: Final = "Next End "
STATE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    kind: tuple(fields.split())
    for kind, fields in {
        "Task": _COMMON + _IO + _TRANSITION + "Resource Parameters Arguments ResultSelector ResultPath Assign "
        "TimeoutSeconds TimeoutSecondsPath HeartbeatSeconds HeartbeatSecondsPath Catch Retry Credentials",
        "Parallel": _COMMON + _IO + _TRANSITION + "Branches Parameters Arguments ResultSelector ResultPath Assign "
        "Catch Retry",
        "Map": _COMMON + _IO + _TRANSITION + "ItemProcessor Iterator ItemsPath Items ItemSelector Parameters "
        "ItemReader ItemBatcher ResultWriter ResultSelector ResultPath Assign MaxConcurrency MaxConcurrencyPath "
        "ToleratedFailurePercentage ToleratedFailurePercentagePath ToleratedFailureCount ToleratedFailureCountPath "
        "Label Catch Retry",
        "Pass": _COMMON + _IO + _TRANSITION + "Parameters Result ResultPath Assign",
        "Wait": _COMMON + _IO + _TRANSITION + "Seconds SecondsPath Timestamp TimestampPath Assign",
        "Choice": _COMMON + _IO + "Choices Default Assign",
        "Succeed": _COMMON + _IO,
        "Fail": _COMMON + "Error ErrorPath Cause CausePath",
    }.items()
}
# The order AWS reports several unsupported fields of one state in (floci#2786 pins TimeoutSeconds, Catch,
# Retry in that order whatever the definition's order); other fields follow in the definition's order.
_REPORT_ORDER: Final = ("TimeoutSeconds", "Catch", "Retry")


def check_supported_fields(state: Mapping[str, Any], pointer: str) -> list[Diagnostic]:
    """SCHEMA_VALIDATION_FAILED "Field 'TimeoutSeconds' is not supported" at /States/<state> (floci#2735/#2786)."""
    allowed = STATE_FIELDS[state["Type"]]
    unsupported = [field for field in state if field not in allowed]
    unsupported.sort(key=lambda field: _REPORT_ORDER.index(field) if field in _REPORT_ORDER else len(_REPORT_ORDER))
    return [Diagnostic(SCHEMA, f"Field '{field}' is not supported", pointer) for field in unsupported]


def check_processor_fields(processor: Mapping[str, Any], pointer: str, allowed: tuple[str, ...]) -> list[Diagnostic]:
    """SCHEMA_VALIDATION_FAILED "Field 'QueryLanguage' is not supported" at /States/M/ItemProcessor."""
    return [
        Diagnostic(SCHEMA, f"Field '{field}' is not supported", pointer) for field in processor if field not in allowed
    ]


# -- QueryLanguage (floci#2968 / PR #2972, each rule measured against AWS) ---------------------------------
def _effective_language(holder: Mapping[str, Any], inherited_jsonata: bool) -> bool:
    """True for JSONata. Absent: inherited from the machine (a Map or Parallel does not pass its own on to
    the states inside it). Present: JSONPath only when it is exactly "JSONPath"; any other value, a wrong
    case or a non-string included, is JSONata."""
    if "QueryLanguage" not in holder:
        return inherited_jsonata
    return holder["QueryLanguage"] != JSONPATH


def check_query_language_value(holder: Mapping[str, Any], pointer: str) -> list[Diagnostic]:
    """A QueryLanguage outside the enum, reported at the field itself."""
    if "QueryLanguage" not in holder:
        return []
    value = holder["QueryLanguage"]
    if not isinstance(value, str):
        return [Diagnostic(SCHEMA, "Expected value of type [STRING]", f"{pointer}/QueryLanguage")]
    if value not in (JSONPATH, JSONATA):
        return [
            Diagnostic(SCHEMA, "Value should be one of the following: [JSONPath, JSONata]", f"{pointer}/QueryLanguage")
        ]
    return []


def check_query_language_downgrade(state: Mapping[str, Any], pointer: str, machine_jsonata: bool) -> list[Diagnostic]:
    """statemachine-structure: "You cannot revert a top-level JSONata-based state machine to a mix of
    JSONata and JSONPath states"; AWS's wording measured in floci#2968."""
    if machine_jsonata and state.get("QueryLanguage") == JSONPATH:
        return [
            Diagnostic(
                SCHEMA, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", pointer
            )
        ]
    return []


# JSONata-only fields: floci#2968, measured. JSONPath-only: floci's JSONPATH_ONLY_FIELDS ("validated against
# real AWS") for the first eight; the other *Path fields follow "Path versions of fields are not supported" in
# JSONata (localstack PR #11906's summary of AWS's launch; inferred).
JSONATA_ONLY_FIELDS: Final = ("Output", "Arguments", "Items")
_MEASURED_JSONPATH_ONLY: Final = (
    "InputPath OutputPath ResultPath ResultSelector Parameters Result ItemsPath MaxConcurrencyPath"
)
_INFERRED_JSONPATH_ONLY: Final = (
    "TimeoutSecondsPath HeartbeatSecondsPath SecondsPath TimestampPath ErrorPath CausePath "
    "ToleratedFailurePercentagePath ToleratedFailureCountPath"
)
JSONPATH_ONLY_FIELDS: Final = (*_MEASURED_JSONPATH_ONLY.split(), *_INFERRED_JSONPATH_ONLY.split())


def check_query_language_fields(state: Mapping[str, Any], pointer: str, jsonata: bool) -> list[Diagnostic]:
    """A field of the other query language, at the state (floci#2968: "The QueryLanguage is set to 'JSONPath',
    but field 'Output' is only supported for the 'JSONata' QueryLanguage"). Fields the state type lacks
    altogether are left to check_supported_fields, so one field is reported once."""
    allowed = STATE_FIELDS[state["Type"]]
    other, mine = (JSONPATH_ONLY_FIELDS, JSONATA) if jsonata else (JSONATA_ONLY_FIELDS, JSONPATH)
    needs = JSONPATH if jsonata else JSONATA
    return [
        Diagnostic(
            SCHEMA,
            f"The QueryLanguage is set to '{mine}', but field '{field}' is only supported "
            f"for the '{needs}' QueryLanguage",
            pointer,
        )
        for field in other
        if field in state and field in allowed
    ]


# -- JSONata expressions (floci#2670/#2745, PRs #2699/#2786) ---------------------------------------------
# Where AWS does not read a "{% %}" string as an expression, measured: Comment, Next, Default, Resource,
# ErrorEquals, Retry, Credentials, ReaderConfig.CSVHeaders (nested states are walked as states of their own).
# Inside a payload (Output, Assign, Arguments, ItemSelector, BatchInput) every string is read, whatever its key.
_NOT_EXPRESSIONS: Final = frozenset(
    {"Comment", "Next", "Default", "Resource", "ErrorEquals", "Retry", "Credentials", "CSVHeaders"}
    | {"ItemProcessor", "Iterator", "Branches"}
)
_PAYLOADS: Final = frozenset({"Output", "Assign", "Arguments", "ItemSelector", "BatchInput"})
_CATCHER_FIELD = re.compile(r"/Catch\[\d+\]/(?:Output|Assign)(?:$|[/\[])")  # relative to the state


def is_expression(value: Any) -> bool:
    """A JSONata expression is a whole string "{% ... %}" (ASL schema common.json $defs.jsonata: ^{%(.*)%}$)."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def check_jsonata_expressions(state: Mapping[str, Any], pointer: str) -> list[Diagnostic]:
    """Every expression of a JSONata state must parse (INVALID_JSONATA_EXPRESSION, with the parser's own
    message) and must not read the top-level context (UNSUPPORTED_JSONATA_EXPRESSION), located at the
    field, e.g. /States/E/Output/v."""
    diagnostics: list[Diagnostic] = []
    for expression, location in _expressions(state, pointer, in_payload=False):
        parsed = analyse_expression(expression[2:-2])
        if parsed.error is not None:
            diagnostics.append(Diagnostic(INVALID_JSONATA, parsed.error, location))
            continue
        in_catcher = _CATCHER_FIELD.match(location[len(pointer) :]) is not None
        for reference in parsed.references:
            message = _reference_message(reference, in_catcher)
            if message is not None:
                diagnostics.append(Diagnostic(UNSUPPORTED_JSONATA, message, location))
    return diagnostics


def _expressions(node: Any, pointer: str, in_payload: bool) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if in_payload or key not in _NOT_EXPRESSIONS:
                yield from _expressions(value, f"{pointer}/{key}", in_payload or key in _PAYLOADS)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _expressions(value, f"{pointer}[{index}]", in_payload)
    elif is_expression(node):
        yield node, pointer


def _reference_message(reference: str, in_catcher: bool) -> str | None:
    # All three measured (floci#2670, and floci's pinned test for "$$" and "$states.errorOutput", which
    # AWS resolves only in a Catch entry's own Output and Assign).
    if reference == "$$":
        return "Reference to '$$' is not supported."
    if reference == "$states.errorOutput":
        return None if in_catcher else "Field '$states.errorOutput' does not exist."
    return f"Reference to '{reference}' at the top level is not supported."


@dataclass(frozen=True)
class ExpressionAnalysis:
    references: tuple[str, ...]  # top-level names, "$", "$$" and "$states.errorOutput", in order, once each
    error: str | None = None  # the parser's message when it does not parse


def analyse_expression(expression: str) -> ExpressionAnalysis:
    """Parse with jsonata-python (a port of jsonata-java, the parser floci walks the same way) and collect
    what the expression reads at the top level. A Step Functions expression runs with no context item, so
    only the first step of a path reads it; later steps, predicates and sort terms read the step before. A
    lambda body keeps its definer's context, so $map($states.input.a, function($x){ b }) names b."""
    from jsonata import parser

    try:
        root = parser.Parser().parse(expression)
    except Exception as error:  # jsonata-python raises JException, and plain errors on some inputs
        return ExpressionAnalysis((), _parse_error_message(error))
    names: dict[str, None] = {}
    _collect_references(root, names)
    return ExpressionAnalysis(tuple(names))


def _parse_error_message(error: Exception) -> str:
    """AWS answers with jsonata-js's message, code prefix stripped (floci#2745: `Expected "]", got ","`).
    jsonata-js JSON-quotes each {{placeholder}}; jsonata-python inserts the bare token, so re-render."""
    from jsonata.jexception import JException

    template = JException.error_codes.get(getattr(error, "error", "")) if isinstance(error, JException) else None
    if template is None or not isinstance(error, JException):
        return str(error)
    values = iter(
        (error.current, error.expected) if error.extra is None else (error.current, error.expected, error.extra)
    )
    return re.sub(r"\{\{\w+\}\}", lambda _: json.dumps(next(values, None)), template)


def _collect_references(node: Any, names: dict[str, None]) -> None:
    kind = getattr(node, "type", None)
    collect = _COLLECTORS.get(kind)
    if collect is not None:
        collect(node, names)
        return
    children = _CHILDREN.get(kind)
    if children is not None:
        _collect_each(children(node), names)
    # literals, regexes, descendant/wildcard, transform, sort, filter and group never read the context


def _path_references(node: Any, names: dict[str, None]) -> None:
    steps = node.steps or []
    if steps:
        _collect_references(steps[0], names)
    if len(steps) >= 2 and (steps[0].type, steps[0].value, steps[1].type, steps[1].value) == (
        "variable",
        "states",
        "name",
        "errorOutput",
    ):
        names["$states.errorOutput"] = None


def _name_reference(node: Any, names: dict[str, None]) -> None:
    names[str(node.value)] = None


def _variable_reference(node: Any, names: dict[str, None]) -> None:
    # "$" is the context item itself; "$$" parses as the variable named "$". Other variables are
    # workflow variables or functions, which AWS accepts.
    if node.value == "":
        names["$"] = None
    elif node.value == "$":
        names["$$"] = None


def _unary_references(node: Any, names: dict[str, None]) -> None:
    if node.value == "[":
        _collect_each(node.expressions, names)
    elif node.value == "{":
        for key, value in node.lhs_object or []:  # an unquoted key is a name too: {aaa: 1} names aaa
            _collect_references(key, names)
            _collect_references(value, names)
    else:
        _collect_references(node.expression, names)


_COLLECTORS: dict[Any, Callable[[Any, dict[str, None]], None]] = {
    "path": _path_references,
    "name": _name_reference,
    "variable": _variable_reference,
    "unary": _unary_references,
}
# The sub-expressions of the other node types that can read the context, in order.
_CHILDREN: dict[Any, Callable[[Any], list[Any]]] = {
    "binary": lambda node: [node.lhs, node.rhs],
    "apply": lambda node: [node.lhs, node.rhs],
    "function": lambda node: [node.procedure, *(node.arguments or [])],
    "partial": lambda node: [node.procedure, *(node.arguments or [])],
    "lambda": lambda node: [node.body],
    "condition": lambda node: [node.condition, node.then, node._else],
    "block": lambda node: list(node.expressions or []),
    "bind": lambda node: [node.rhs],
}


def _collect_each(nodes: Any, names: dict[str, None]) -> None:
    for node in nodes or []:
        _collect_references(node, names)


# -- the graph (floci#2735 / PR #2786, measured) -----------------------------------------------------------
def _transitions(state: Any, pointer: str) -> Iterator[tuple[Any, str]]:
    """Every state name a state can go to, with the location AWS reports a dangling one at."""
    if not isinstance(state, Mapping):
        return
    if "Next" in state:
        yield state["Next"], f"{pointer}/Next"
    if "Default" in state:
        yield state["Default"], f"{pointer}/Default"
    for field in ("Choices", "Catch"):
        entries = state.get(field)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping) and "Next" in entry:
                yield entry["Next"], f"{pointer}/{field}[{index}]/Next"


def _known(states: Mapping[str, Any], name: Any) -> bool:
    return isinstance(name, str) and name in states


def check_transition_targets(container: Container) -> list[Diagnostic]:
    """ "Missing 'Next' target: <name>" (the word Next whatever the field) at /StartAt, .../Next,
    .../Default, .../Choices[i]/Next or .../Catch[i]/Next. A branch or processor is its own scope."""
    states = container.states
    diagnostics = []
    if not _known(states, container.start_at):
        diagnostics.append(
            Diagnostic(MISSING_TARGET, f"Missing 'Next' target: {container.start_at}", f"{container.pointer}/StartAt")
        )
    for name, state in states.items():
        for target, location in _transitions(state, f"{container.pointer}/States/{name}"):
            if not _known(states, target):
                diagnostics.append(Diagnostic(MISSING_TARGET, f"Missing 'Next' target: {target}", location))
    return diagnostics


def check_reachability(container: Container) -> list[Diagnostic]:
    """'State "X" is not reachable.' (code MISSING_TRANSITION_TARGET) at the state, walking from StartAt; a
    StartAt naming no state reaches nothing."""
    states = container.states
    reached: set[str] = set()
    frontier = [container.start_at] if _known(states, container.start_at) else []
    while frontier:
        name = frontier.pop()
        if name in reached:
            continue
        reached.add(name)
        frontier += [target for target, _ in _transitions(states[name], "") if _known(states, target)]
    return [
        Diagnostic(MISSING_TARGET, f'State "{name}" is not reachable.', f"{container.pointer}/States/{name}")
        for name in states
        if name not in reached
    ]


def check_terminal_state(machine: Mapping[str, Any]) -> list[Diagnostic]:
    """MISSING_END_STATE "Workflow has no terminal state", without a location, when no top-level state is
    terminal (End: true, Succeed, Fail). Nested containers are exempt (floci#2786, measured)."""
    for state in machine["States"].values():
        if isinstance(state, Mapping) and (state.get("End") is True or state.get("Type") in ("Succeed", "Fail")):
            return []
    return [Diagnostic(MISSING_END, "Workflow has no terminal state")]


# -- the optimized EMR integration's parameters ------------------------------------------------------------
# AWS checks an optimized integration's Parameters/Arguments against the integration's schema at deploy
# time. Unknown fields, at any depth, are refused at the Parameters field (data-science-sdk-python#198:
# 'The field "SNSTopicArn" is not supported by Step Functions /States/StartDocumentTextDetection/Parameters',
# SNSTopicArn being inside NotificationChannel). Required fields must be visible: an addStep.sync whose Step
# was one JSONata expression failed `sam deploy` with "SCHEMA_VALIDATION_FAILED: Step.Name / Step.HadoopJarStep /
# Step.HadoopJarStep.Jar required but missing" (Polyris CHANGELOG). So a required field given by an expression
# ("{% %}" or a JSONPath "Key.$") passes when its shape is a scalar or a list (AWS's own samples use
# "ClusterId.$"), and when it is a structure its own required members are reported missing, recursively.
# The wording "The field '<dotted path>' is required but was missing" is inferred (Polyris paraphrases it).
_EMR_RESOURCE = re.compile(r"^arn:[\w-]+:states:::elasticmapreduce:(?P<api>\w+)(?:\.(?:sync|waitForTaskToken))?$")


@dataclass(frozen=True)
class _Structure:
    members: Mapping[str, Shape]
    required: tuple[str, ...]


def check_emr_integration(state: Mapping[str, Any], pointer: str, jsonata: bool) -> list[Diagnostic]:
    from emr_autopilot.emr_requests import INTEGRATION_APIS

    match = _EMR_RESOURCE.match(str(state.get("Resource", ""))) if state.get("Type") == "Task" else None
    if match is None or match["api"] not in INTEGRATION_APIS:
        return []  # not EMR, or an action the resource check refuses
    field = "Arguments" if jsonata else "Parameters"
    location = f"{pointer}/{field}"
    payload = state.get(field, {})
    top = _integration_structure(match["api"])
    problems = list(_structure_problems(top, payload, "", jsonata, dynamic=jsonata and is_expression(payload)))
    diagnostics = [Diagnostic(SCHEMA, message, location) for message in problems]
    if match["api"] == "createCluster":
        diagnostics += _keep_alive_value(payload, location, jsonata)
    return diagnostics


@cache
def _integration_structure(api: str) -> _Structure:
    from emr_autopilot import emr_requests

    if api == "createCluster":
        # connect-emr: "createCluster uses the same request syntax as runJobFlow, except ... the field Steps
        # is not allowed".
        shape: Any = emr_requests.service_model().operation_model("RunJobFlow").input_shape
        members = {name: member for name, member in shape.members.items() if name != "Steps"}
        return _Structure(members, tuple(shape.required_members))
    table = emr_requests._INTEGRATION_MEMBERS[api]  # the integration's shapes, kept in one place
    members = {name: emr_requests._member_shape(operation, path) for name, (operation, path, _) in table.items()}
    return _Structure(members, tuple(name for name, (_, _, needed) in table.items() if needed))


@cache
def _filled_by_integration() -> dict[str, frozenset[str]]:
    """Members the integration fills in itself, by EMR shape name: not part of its request (connect-emr,
    modifyInstanceGroupByName: "the field InstanceGroupId is not allowed"; InstanceFleetId by analogy)."""
    from emr_autopilot import emr_requests

    return {
        _integration_structure(api).members[holder].name: frozenset({member})
        for api, (holder, member) in emr_requests._FILLED_BY_INTEGRATION.items()
    }


def _structure_of(shape: Shape) -> _Structure:
    members: Any = shape.members  # type: ignore[attr-defined]
    required = list(shape.required_members)
    if shape.name == "JobFlowInstancesConfig":
        # connect-emr, createCluster: "The field Instances.KeepJobFlowAliveWhenNoSteps is mandatory".
        required.append("KeepJobFlowAliveWhenNoSteps")
    filled = _filled_by_integration().get(shape.name, frozenset())
    return _Structure(
        {name: member for name, member in members.items() if name not in filled},
        tuple(name for name in required if name not in filled),
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _structure_problems(structure: _Structure, value: Any, path: str, jsonata: bool, dynamic: bool) -> Iterator[str]:
    if dynamic:
        yield from (f"The field '{name}' is required but was missing" for name in _required_names(structure, path))
        return
    if not isinstance(value, Mapping):
        return  # a wrong type is the EMR model's business at run time (inferred)
    given: dict[str, tuple[Any, bool]] = {}
    for key, item in value.items():
        # In JSONPath Parameters "Key.$" gives Key from a path; in JSONata a "{% %}" string is the value.
        name = key[:-2] if not jsonata and key.endswith(".$") else key
        given[name] = (item, key != name or (jsonata and is_expression(item)))
        if name not in structure.members:
            yield f'The field "{name}" is not supported by Step Functions'
    for name in structure.required:
        if name not in given:
            yield f"The field '{_join(path, name)}' is required but was missing"
    for name, (item, item_dynamic) in given.items():
        if name in structure.members:
            yield from _member_problems(structure.members[name], item, _join(path, name), jsonata, item_dynamic)


def _member_problems(shape: Shape, value: Any, path: str, jsonata: bool, dynamic: bool) -> Iterator[str]:
    if shape.type_name == "structure":
        yield from _structure_problems(_structure_of(shape), value, path, jsonata, dynamic)
    elif shape.type_name == "list" and not dynamic and isinstance(value, list):
        member: Any = shape.member  # type: ignore[attr-defined]
        for index, item in enumerate(value):
            yield from _member_problems(member, item, f"{path}[{index}]", jsonata, jsonata and is_expression(item))
    elif shape.type_name == "map" and not dynamic and isinstance(value, Mapping):
        value_shape: Any = shape.value  # type: ignore[attr-defined]
        for key, item in value.items():
            name = key[:-2] if not jsonata and key.endswith(".$") else key
            item_dynamic = key != name or (jsonata and is_expression(item))
            yield from _member_problems(value_shape, item, f"{path}.{name}", jsonata, item_dynamic)


def _required_names(structure: _Structure, path: str) -> Iterator[str]:
    for name in structure.required:
        yield _join(path, name)
        shape = structure.members[name]
        if shape.type_name == "structure":
            yield from _required_names(_structure_of(shape), _join(path, name))


def _keep_alive_value(payload: Any, location: str, jsonata: bool) -> list[Diagnostic]:
    """connect-emr, createCluster: KeepJobFlowAliveWhenNoSteps "must have the Boolean value TRUE": a literal
    true, so a value from an expression is refused too. AWS's wording for an enum (floci#2968: "Value should
    be one of the following: [...]", at the field) is inferred to apply."""
    instances = payload.get("Instances") if isinstance(payload, Mapping) else None
    if not isinstance(instances, Mapping):
        return []  # missing or dynamic: reported above as required but missing
    keys = (
        ("KeepJobFlowAliveWhenNoSteps",)
        if jsonata
        else ("KeepJobFlowAliveWhenNoSteps", "KeepJobFlowAliveWhenNoSteps.$")
    )
    for key in keys:
        if key in instances and (key.endswith(".$") or instances[key] is not True):
            where = f"{location}/Instances/KeepJobFlowAliveWhenNoSteps"
            return [Diagnostic(SCHEMA, "Value should be one of the following: [true]", where)]
    return []


# -- the optimized EMR Serverless and EMR on EKS integrations' parameters ----------------------------------
# The same deploy-time schema check as for EMR (above): connect-emr-serverless's and connect-emr-eks's Parameters
# are the API's request members in PascalCase, so an unknown field at any depth (outside map values such as Tags or
# Spark properties) and a missing required member are refused. clientToken is not required: it is an idempotency
# token the integration fills in (inferred). The wording is the EMR check's (inferred).
_EMR_SERVERLESS_RESOURCE = re.compile(r"^arn:[\w-]+:states:::emr-serverless:(?P<api>\w+)(?:\.(?P<form>sync))?$")
_EMR_CONTAINERS_RESOURCE = re.compile(r"^arn:[\w-]+:states:::emr-containers:(?P<api>\w+)(?:\.(?P<form>sync))?$")


def check_emr_serverless_integration(state: Mapping[str, Any], pointer: str, jsonata: bool) -> list[Diagnostic]:
    from emr_autopilot_devkit.local.moto_patches import sfn_emr_serverless_integration as integration

    return _check_pascal_integration(state, pointer, jsonata, _EMR_SERVERLESS_RESOURCE, integration)


def check_emr_containers_integration(state: Mapping[str, Any], pointer: str, jsonata: bool) -> list[Diagnostic]:
    from emr_autopilot_devkit.local.moto_patches import sfn_emr_containers_integration as integration

    return _check_pascal_integration(state, pointer, jsonata, _EMR_CONTAINERS_RESOURCE, integration)


def _check_pascal_integration(
    state: Mapping[str, Any],
    pointer: str,
    jsonata: bool,
    resource: re.Pattern[str],
    integration: Any,
) -> list[Diagnostic]:
    """`integration`: the module serving the service's tasks (its SERVICE, OPERATIONS and RESOURCES)."""
    from emr_autopilot.emr_requests import service_model

    name, operations = integration.SERVICE, integration.OPERATIONS
    match = resource.match(str(state.get("Resource", ""))) if state.get("Type") == "Task" else None
    if match is None or match["form"] not in integration.RESOURCES.get(match["api"], ()):
        return []  # not this service, or a form the resource check refuses
    field = "Arguments" if jsonata else "Parameters"
    payload = state.get(field, {})
    shape = service_model(name).operation_model(operations[match["api"]]).input_shape
    if jsonata and is_expression(payload):
        return []  # one expression: its members are only known at run time, where the model check is made
    location = f"{pointer}/{field}"
    return [Diagnostic(SCHEMA, message, location) for message in _serverless_problems(shape, payload, "", jsonata)]


def _serverless_problems(shape: Any, value: Any, path: str, jsonata: bool) -> Iterator[str]:
    if shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _serverless_problems(shape.member, item, f"{path}[{index}]", jsonata)
        return
    if shape.type_name != "structure" or not isinstance(value, Mapping):
        return  # a scalar, a map (its keys are data) or a wrong type: the model check at run time
    members = {name[:1].upper() + name[1:]: member for name, member in shape.members.items()}
    given: set[str] = set()
    for key, item in value.items():
        dynamic = (not jsonata and key.endswith(".$")) or (jsonata and is_expression(item))
        name = key[:-2] if not jsonata and key.endswith(".$") else key
        given.add(name)
        if name not in members:
            yield f'The field "{name}" is not supported by Step Functions'
        elif not dynamic:
            yield from _serverless_problems(members[name], item, _join(path, name), jsonata)
    for required in shape.required_members:
        name = required[:1].upper() + required[1:]
        if required != "clientToken" and name not in given:
            yield f"The field '{_join(path, name)}' is required but was missing"


# -- the hook in moto's Step Functions responses -----------------------------------------------------------
def install() -> None:
    """CreateStateMachine and UpdateStateMachine refuse what validate_definition finds, and
    ValidateStateMachineDefinition (not routed by moto 5.2.5) answers with the same diagnostics."""
    from moto.stepfunctions.parser import api as parser_api
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse, "_asl_validation", False):
        return
    # moto's parser refuses a definition with its InvalidDefinition, which sets `code` where its base class
    # (AWSError) reads TYPE: the answer went out as "UnknownError" with an empty code.
    parser_api.InvalidDefinition.TYPE = "InvalidDefinition"
    original_create = StepFunctionResponse.create_state_machine
    original_update = StepFunctionResponse.update_state_machine

    def create_state_machine(self: Any) -> Any:
        _refuse_invalid(self._get_param("definition"))
        return original_create(self)

    def update_state_machine(self: Any) -> Any:
        _refuse_invalid(self._get_param("definition"))
        return original_update(self)

    StepFunctionResponse.create_state_machine = create_state_machine  # type: ignore[method-assign]
    StepFunctionResponse.update_state_machine = update_state_machine  # type: ignore[method-assign]
    StepFunctionResponse.validate_state_machine_definition = _validate_response  # type: ignore[attr-defined]
    StepFunctionResponse._asl_validation = True  # type: ignore[attr-defined]


def _refuse_invalid(definition: Any) -> None:
    from moto.stepfunctions.exceptions import AWSError

    if not isinstance(definition, str):
        return  # absent (UpdateStateMachine without one) or malformed: moto answers those itself
    diagnostics = validate_definition(definition)
    if diagnostics:
        raise AWSError(refusal(diagnostics), exception_type="InvalidDefinition")


_MAX_RESULTS_DEFAULT: Final = 100  # API_ValidateStateMachineDefinition: maxResults 0-100, 0 or absent = 100


def _validate_response(self: Any) -> Any:
    """API_ValidateStateMachineDefinition: {result: OK|FAIL, diagnostics: [{severity, code, message,
    location?}], truncated}. Only ERROR diagnostics exist here, so severity filtering changes nothing."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import ValidationException

    definition = self._get_param("definition")
    if not isinstance(definition, str) or not definition:
        raise ValidationException(
            "1 validation error detected: "
            "Value null at 'definition' failed to satisfy constraint: Member must not be null"
        )
    diagnostics = validate_definition(definition) or _moto_parser_diagnostics(definition)
    limit = self._get_param("maxResults") or _MAX_RESULTS_DEFAULT
    shown = [
        {
            "severity": "ERROR",
            "code": d.code,
            "message": d.message,
            **({"location": d.location} if d.location is not None else {}),
        }
        for d in diagnostics[:limit]
    ]
    return ActionResult(
        {"result": "FAIL" if diagnostics else "OK", "diagnostics": shown, "truncated": len(diagnostics) > limit}
    )


def _moto_parser_diagnostics(definition: str) -> list[Diagnostic]:
    """What moto's own parser refuses at CreateStateMachine (in moto's words, not AWS's), so that
    ValidateStateMachineDefinition says FAIL exactly when CreateStateMachine would."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as error:
        return [Diagnostic(SCHEMA, str(error) or type(error).__name__)]
    return []
