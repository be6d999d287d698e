"""Check EMR requests against botocore's EMR service model, in plain words.

EMR refuses a request that breaks its API model (a missing required member, an unknown member, a
wrong type, a value outside an enum or a length/number range) with a 400 ValidationException. This
module finds those problems before a request is sent: the local runtime uses it to answer as EMR
would, job validation uses it to catch a bad cluster definition before any AWS call.

The Step Functions createCluster integration adds its own rules on top of RunJobFlow's model
(connect-emr, table "Optimized Amazon EMR APIs", createCluster row): `Instances.KeepJobFlowAliveWhenNoSteps`
is mandatory and must be true, and `Steps` is not allowed.

botocore's ParamValidator covers part of this, but it neither checks enums nor maximum lengths and its
messages are written for SDK users ("Invalid type for parameter Instances.InstanceCount, value: two,
type: <class 'str'>, valid types: <class 'int'>"); the walk below is hand-written for that reason.
A JSON null member counts as not set (inferred: AWS's JSON-protocol services read null as absent, and
awslabs/aws-emr-launch 2.0.1 passes None for every unused RunJobFlow field through Step Functions'
createCluster, stripping them only on its boto3 path).

Patterns in the model are not checked: EMR's are Java regexes over UTF-16 surrogates (inferred to be
"any XML-safe text"), which Python's re cannot express faithfully.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from botocore.model import ServiceModel, Shape


class RequestProblem(NamedTuple):
    path: str  # e.g. "Instances.InstanceGroups[0].InstanceCount" ("" for the whole request)
    problem: str  # plain words, e.g. "must be an integer; got 'two'"


def describe(problems: list[RequestProblem]) -> str:
    """One line per problem: `Instances.InstanceCount must be an integer; got 'two'`."""
    return "; ".join(f"{p.path} {p.problem}" if p.path else p.problem for p in problems)


@cache
def service_model(service: str = "emr") -> ServiceModel:
    """botocore's model of `service` (EMR by default; also "emr-serverless"), loaded on first use
    (not at import: this module is in the Lambda layer)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def without_nulls(value: Any) -> Any:
    """`value` with every null object member removed, at any depth (null means not set, see above)."""
    if isinstance(value, Mapping):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def check_request(operation: str, params: Any, service: str = "emr") -> list[RequestProblem]:
    """Problems of `params` as the input of `operation` of `service` (e.g. "RunJobFlow" of EMR, "StartJobRun"
    of "emr-serverless"); [] when the service's model accepts it."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return [] if not params else [RequestProblem("", f"{operation} takes no parameters")]
    return _check(shape, params, "", label=operation)


# -- the Step Functions optimized integration (arn:aws:states:::elasticmapreduce:<api>) ---------------
# Its request shapes wrap EMR's (connect-emr, table "Optimized Amazon EMR APIs", column "Differences"):
# each member is (EMR operation, path of the EMR member whose shape it takes, required).
_INTEGRATION_MEMBERS: dict[str, dict[str, tuple[str, tuple[str, ...], bool]]] = {
    # addStep: "Request uses the key "ClusterId". Amazon EMR uses "JobFlowId". Request uses a single step."
    "addStep": {
        "ClusterId": ("AddJobFlowSteps", ("JobFlowId",), True),
        "Step": ("AddJobFlowSteps", ("Steps", "[]"), True),
        "ExecutionRoleArn": ("AddJobFlowSteps", ("ExecutionRoleArn",), False),
    },
    # cancelStep: "Request uses this: {"StepId": "string"}. Amazon EMR uses this: {"StepIds": [<strings>]}"
    "cancelStep": {
        "ClusterId": ("CancelSteps", ("ClusterId",), True),
        "StepId": ("CancelSteps", ("StepIds", "[]"), True),
        "StepCancellationOption": ("CancelSteps", ("StepCancellationOption",), False),
    },
    # terminateCluster: "Request uses this: {"ClusterId": "string"}. Amazon EMR uses {"JobFlowIds": ["string"]}"
    "terminateCluster": {"ClusterId": ("TerminateJobFlows", ("JobFlowIds", "[]"), True)},
    # setClusterTerminationProtection: the same ClusterId for JobFlowIds; TerminationProtected as in EMR.
    "setClusterTerminationProtection": {
        "ClusterId": ("SetTerminationProtection", ("JobFlowIds", "[]"), True),
        "TerminationProtected": ("SetTerminationProtection", ("TerminationProtected",), True),
    },
    # modifyInstanceGroupByName: {"ClusterId", "InstanceGroupName", "InstanceGroup": <InstanceGroupModifyConfig>}
    # (connect-emr table and its ModifyInstanceGroupByName example); the group's name takes the model's
    # InstanceGroup Name shape (inferred).
    "modifyInstanceGroupByName": {
        "ClusterId": ("ModifyInstanceGroups", ("ClusterId",), True),
        "InstanceGroupName": ("RunJobFlow", ("Instances", "InstanceGroups", "[]", "Name"), True),
        "InstanceGroup": ("ModifyInstanceGroups", ("InstanceGroups", "[]"), True),
    },
    # modifyInstanceFleetByName: {"ClusterId", "InstanceFleetName", "InstanceFleet": <InstanceFleetModifyConfig>}
    # (connect-emr example ModifyInstanceFleetByName; the table's detail is not in the archived guide: inferred
    # by analogy with modifyInstanceGroupByName).
    "modifyInstanceFleetByName": {
        "ClusterId": ("ModifyInstanceFleet", ("ClusterId",), True),
        "InstanceFleetName": ("RunJobFlow", ("Instances", "InstanceFleets", "[]", "Name"), True),
        "InstanceFleet": ("ModifyInstanceFleet", ("InstanceFleet",), True),
    },
}

# Members of an EMR shape the integration fills in itself, so a request must not carry them
# (connect-emr, modifyInstanceGroupByName row: "Within the InstanceGroupModifyConfig object, the field
# InstanceGroupId is not allowed"; InstanceFleetId by analogy, inferred).
_FILLED_BY_INTEGRATION: dict[str, tuple[str, str]] = {
    "modifyInstanceGroupByName": ("InstanceGroup", "InstanceGroupId"),
    "modifyInstanceFleetByName": ("InstanceFleet", "InstanceFleetId"),
}

INTEGRATION_APIS = ("createCluster", *_INTEGRATION_MEMBERS)


def integration_fields(api: str) -> frozenset[str]:
    """The top-level request fields of an optimized-integration API (createCluster: RunJobFlow's, except Steps)."""
    if api == "createCluster":
        members: Any = service_model().operation_model("RunJobFlow").input_shape.members  # type: ignore[union-attr]
        return frozenset(members) - {"Steps"}
    members = _INTEGRATION_MEMBERS.get(api)
    if members is None:
        raise ValueError(f"unknown elasticmapreduce integration {api!r}; known: {', '.join(INTEGRATION_APIS)}")
    return frozenset(members)


def check_integration_request(api: str, params: Any) -> list[RequestProblem]:
    """Problems of an optimized-integration request (`api` as in the Resource, e.g. "addStep") against
    the EMR model it is translated to. createCluster is RunJobFlow's model as is; see also
    check_integration_rules for the integration's own rules."""
    if api == "createCluster":
        return check_request("RunJobFlow", params)
    members = _INTEGRATION_MEMBERS.get(api)
    if members is None:
        raise ValueError(f"unknown elasticmapreduce integration {api!r}; known: {', '.join(INTEGRATION_APIS)}")
    shapes = {name: _member_shape(operation, path) for name, (operation, path, _) in members.items()}
    required = [name for name, (_, _, needed) in members.items() if needed]
    filled = _FILLED_BY_INTEGRATION.get(api)
    exempt = {filled[0]: {filled[1]}} if filled else {}
    return _check_members(shapes, required, params, "", label=f"Step Functions {api}", exempt=exempt)


def check_integration_rules(api: str, params: Any) -> list[RequestProblem]:
    """Breaches of the Step Functions integration's own rules (not of EMR's model)."""
    problems: list[RequestProblem] = []
    if not isinstance(params, Mapping):
        return problems
    if api == "createCluster":
        # connect-emr, createCluster row: "The field Instances.KeepJobFlowAliveWhenNoSteps is mandatory and
        # must have the Boolean value TRUE"; "the field Steps is not allowed".
        instances = params.get("Instances")
        keep_alive = instances.get("KeepJobFlowAliveWhenNoSteps") if isinstance(instances, Mapping) else None
        if keep_alive is not True:
            got = "it is missing" if keep_alive is None else f"got {_show(keep_alive)}"
            problems.append(
                RequestProblem(
                    "Instances.KeepJobFlowAliveWhenNoSteps",
                    f"must be true for Step Functions createCluster; {got}",
                )
            )
        if params.get("Steps") is not None:
            problems.append(
                RequestProblem("Steps", "is not allowed by Step Functions createCluster (add steps with addStep)")
            )
    filled = _FILLED_BY_INTEGRATION.get(api)
    if filled:
        holder, member = filled
        value = params.get(holder)
        if isinstance(value, Mapping) and value.get(member) is not None:
            name_field = "InstanceGroupName" if holder == "InstanceGroup" else "InstanceFleetName"
            problems.append(
                RequestProblem(
                    f"{holder}.{member}",
                    f"is not allowed by Step Functions {api}: it looks the id up by {name_field}",
                )
            )
    return problems


def check_create_cluster(params: Any) -> list[RequestProblem]:
    """A Step Functions createCluster request: RunJobFlow's model plus the integration's rules."""
    return check_request("RunJobFlow", params) + check_integration_rules("createCluster", params)


def check_add_step(params: Any) -> list[RequestProblem]:
    """A Step Functions addStep request: {ClusterId, Step (a StepConfig), ExecutionRoleArn?}."""
    return check_integration_request("addStep", params)


# -- the walk ------------------------------------------------------------------------------------------
def _member_shape(operation: str, path: tuple[str, ...]) -> Shape:
    shape: Any = service_model().operation_model(operation).input_shape
    for step in path:
        shape = shape.member if step == "[]" else shape.members[step]
    result: Shape = shape
    return result


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(shape: Shape, value: Any, path: str, label: str | None = None) -> list[RequestProblem]:
    kind = shape.type_name
    if kind == "structure":
        members: Any = shape.members  # type: ignore[attr-defined]
        return _check_members(dict(members), list(shape.required_members), value, path, label=label or shape.name)
    check = _CHECKS.get(kind)
    return check(shape, value, path) if check else []


def _check_list(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    if not isinstance(value, list):
        return [RequestProblem(path, f"must be a list; got {_show(value)}")]
    problems = _length(shape, len(value), path, "items")
    member: Any = shape.member  # type: ignore[attr-defined]
    for index, item in enumerate(value):
        problems += _check(member, item, f"{path}[{index}]")
    return problems


def _check_map(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    if not isinstance(value, Mapping):
        return [RequestProblem(path, f"must be an object (a map); got {_show(value)}")]
    problems = []
    key_shape: Any = shape.key  # type: ignore[attr-defined]
    value_shape: Any = shape.value  # type: ignore[attr-defined]
    for key, item in value.items():
        problems += _check(key_shape, key, f"{path} key {key!r}")
        problems += _check(value_shape, item, f'{path}["{key}"]')
    return problems


def _check_string(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    if not isinstance(value, str):
        return [RequestProblem(path, f"must be a string; got {_show(value)}")]
    enum = shape.enum  # type: ignore[attr-defined]
    if enum and value not in enum:
        return [RequestProblem(path, f"must be one of {', '.join(enum)}; got {_show(value)}")]
    return _length(shape, len(value), path, "characters")


def _check_integer(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    # JSON has one number type: a JSONata result such as 2.0 is the integer 2 on the wire (inferred).
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        return [RequestProblem(path, f"must be an integer; got {_show(value)}")]
    return _range(shape, value, path)


def _check_number(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [RequestProblem(path, f"must be a number; got {_show(value)}")]
    return _range(shape, value, path)


def _check_boolean(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    return [] if isinstance(value, bool) else [RequestProblem(path, f"must be true or false; got {_show(value)}")]


def _check_timestamp(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    return _timestamp(value, path)


def _check_blob(shape: Shape, value: Any, path: str) -> list[RequestProblem]:
    if isinstance(value, str | bytes):
        return []
    return [RequestProblem(path, f"must be a string (bytes); got {_show(value)}")]


# One check per botocore shape type; "structure" is _check_members.
_CHECKS: dict[str, Callable[[Shape, Any, str], list[RequestProblem]]] = {
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "double": _check_number,
    "float": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


def _check_members(
    members: dict[str, Shape],
    required: list[str],
    value: Any,
    path: str,
    label: str,
    exempt: dict[str, set[str]] | None = None,
) -> list[RequestProblem]:
    if not isinstance(value, Mapping):
        return [RequestProblem(path, f"must be an object; got {_show(value)}")]
    problems = [RequestProblem(_join(path, name), "is required") for name in required if value.get(name) is None]
    for name, item in value.items():
        if item is None:
            continue  # null: not set (see the module docstring)
        shape = members.get(name)
        if shape is None:
            close = difflib.get_close_matches(str(name), list(members), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(RequestProblem(_join(path, str(name)), f"is not a {label} field{hint}"))
            continue
        if exempt and name in exempt and isinstance(item, Mapping) and shape.type_name == "structure":
            # The integration fills these members in itself: check the rest against the model.
            filled = exempt[name]
            shape_members: Any = shape.members  # type: ignore[attr-defined]
            sub_members = {k: v for k, v in dict(shape_members).items() if k not in filled}
            sub_required = [k for k in shape.required_members if k not in filled]
            rest = {k: v for k, v in item.items() if k not in filled}
            problems += _check_members(sub_members, sub_required, rest, _join(path, name), label=shape.name)
            continue
        problems += _check(shape, item, _join(path, str(name)))
    return problems


def _length(shape: Shape, size: int, path: str, unit: str) -> list[RequestProblem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        return [RequestProblem(path, f"must have at least {low} {unit}; got {size}")]
    if high is not None and size > high:
        return [RequestProblem(path, f"must have at most {high} {unit}; got {size}")]
    return []


def _range(shape: Shape, number: float, path: str) -> list[RequestProblem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        return [RequestProblem(path, f"must be at least {low}; got {_show(number)}")]
    if high is not None and number > high:
        return [RequestProblem(path, f"must be at most {high}; got {_show(number)}")]
    return []


def _timestamp(value: Any, path: str) -> list[RequestProblem]:
    # What botocore's JSON serializer accepts: epoch seconds, a datetime, or a date string it can parse.
    if isinstance(value, datetime) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return []
    if isinstance(value, str):
        from botocore.utils import parse_timestamp

        try:
            parse_timestamp(value)
            return []
        except (ValueError, TypeError, OverflowError):
            pass
    return [RequestProblem(path, f"must be a timestamp (epoch seconds or ISO 8601); got {_show(value)}")]
