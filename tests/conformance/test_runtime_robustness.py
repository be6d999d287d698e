"""The local runtime refuses what AWS refuses, enforces AWS's limits, and holds up under concurrency and Unicode.

Sources, cited per test:
- AWS Common Errors (https://docs.aws.amazon.com/general/latest/gr/api-retries.html, "Common Errors"):
  InternalFailure, HTTP 500; ValidationException, HTTP 400;
- botocore's service models (the models AWS publishes for its SDKs), pinned in requirements-dev.lock;
- SNS API_Publish (Message and Subject constraints, as quoted in botocore's SNS model) and
  MessageAttributeValue ("All parts of the message attribute ... are included in the message size restriction");
- Step Functions quotas (limits-overview.md, "Maximum input or output size for a task, state, or execution":
  262,144 bytes of data as a UTF-8 encoded string) and API_StartExecution ("Length constraints apply to the
  payload size, and are expressed as bytes in UTF-8 encoding");
- DynamoDB item size quota (400 KB, "Item size has exceeded the maximum allowed size");
- bp-lambda-serviceexception.md ("Lambda errors are reported as Lambda.ErrorName");
- public AWS traces: aws/aws-cdk#27087 and localstack/localstack#9412 (SerializationException for a value of
  the wrong JSON type), pulumi/pulumi-aws#2357 ("Value null at '...' failed to satisfy constraint: Member must
  not be null"), moto#1503 (AWS's "Invalid parameter: Subject").
"inferred" marks what the local runtime decides where no AWS source says.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import get_environ_proxies

from emr_autopilot_devkit.local.runtime import REGION, LocalFunction, LocalRuntime
from tests.helpers.conformance import Run, Runner

ROCKET = "\U0001f680"  # 🚀: outside the Basic Multilingual Plane, two UTF-16 code units, four UTF-8 bytes
REPO_ROOT = Path(__file__).resolve().parents[2]


def raw_call(stack: LocalRuntime, target: str, body: str, signing_name: str, json_version: str = "1.1") -> Any:
    """A JSON-protocol request as any HTTP client could send it, past every SDK-side check."""
    return requests.post(
        stack.endpoint + "/",
        data=body.encode("utf-8"),
        headers={
            "X-Amz-Target": target,
            "Content-Type": f"application/x-amz-json-{json_version}",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{signing_name}/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        },
        timeout=30,
    )


def unvalidated_client(stack: LocalRuntime, service: str) -> Any:
    """A boto3 client that sends what it is given: what reaches the server is the server's to refuse."""
    factory: Any = boto3.client
    return factory(
        service,
        endpoint_url=stack.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error: dict[str, Any] = raised.value.response["Error"]
    return error


def topic_arn(stack: LocalRuntime) -> str:
    return next(value for key, value in stack.outputs.items() if key.endswith("TopicArn"))


def task_state(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Task",
        "States": {"Task": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}},
    }


def failure(run: Run) -> dict[str, Any]:
    failed = run.events("TaskFailed")
    assert failed, f"no TaskFailed event; execution {run.status}: {run.execution.get('error')}"
    return failed[-1]


# -- 2. the server never answers a malformed request with HTML or a 500 ----------------------------------------
def test_a_wrong_json_type_is_a_400_serialization_exception_not_an_html_500(runtime: Runner) -> None:
    """AWS reads a JSON-protocol body against the operation's shape; a value of the wrong JSON type is refused
    while reading: 400 SerializationException "STRING_VALUE can not be converted to an Integer" (aws/aws-cdk#27087,
    localstack/localstack#9412). moto crashed on it and Flask answered with an HTML 500 page."""
    # Given RunJobFlow with InstanceCount "two" (EMR's model: Instances.InstanceCount is an Integer)
    body = json.dumps(
        {
            "Name": "x",
            "ReleaseLabel": "emr-7.5.0",
            "Instances": {"MasterInstanceType": "m5.xlarge", "InstanceCount": "two"},
        }
    )

    # When it is sent as raw HTTP
    response = raw_call(runtime.stack, "ElasticMapReduce.RunJobFlow", body, "elasticmapreduce")

    # Then the answer is a 400 in AWS's JSON error shape, not an HTML page
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    assert "<html" not in response.text.lower()
    answer = response.json()
    assert answer["__type"].rsplit("#", 1)[-1] == "SerializationException"
    assert answer["Message"] == "STRING_VALUE can not be converted to an Integer"

    # And an SDK that does not validate gets the same error, parsed as AWS's would be
    error = error_of(
        unvalidated_client(runtime.stack, "emr").run_job_flow,
        Name="x",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": "two"},
    )
    assert error["Code"] == "SerializationException"


def test_a_missing_required_member_is_a_validation_exception_in_aws_words(runtime: Runner) -> None:
    """A constraint violation is 400 ValidationException, "1 validation error detected: Value null at 'name' failed
    to satisfy constraint: Member must not be null" (AWS's wording: pulumi/pulumi-aws#2357; the member path in
    lowerCamel case: inferred from such messages). moto created a cluster without a Name."""
    # Given RunJobFlow without its required Name (EMR's model: required Name and Instances)
    emr = unvalidated_client(runtime.stack, "emr")

    # When it is sent
    error = error_of(emr.run_job_flow, Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1})

    # Then EMR refuses it, in AWS's words
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    )


def test_an_unknown_cluster_is_a_400_json_error(runtime: Runner) -> None:
    """DescribeStep on a cluster that does not exist: EMR's InvalidRequestException (HTTP 400), in JSON."""
    # Given no cluster j-DOESNOTEXIST
    # When DescribeStep is asked about it as raw HTTP
    response = raw_call(
        runtime.stack,
        "ElasticMapReduce.DescribeStep",
        json.dumps({"ClusterId": "j-DOESNOTEXIST", "StepId": "s-DOESNOTEXIST"}),
        "elasticmapreduce",
    )

    # Then the answer is a 400 JSON error naming the cluster
    assert response.status_code == 400
    assert response.json()["__type"].rsplit("#", 1)[-1] == "InvalidRequestException"
    assert "j-DOESNOTEXIST" in response.json()["Message"]


def test_an_unknown_operation_and_a_body_that_is_not_json_are_400s(runtime: Runner) -> None:
    """An X-Amz-Target naming no operation, and a body that is not JSON: 400 UnknownOperationException and
    400 SerializationException (both inferred from AWS's JSON protocol; moto answered the second with a
    listing of every cluster, as if the body had been {})."""
    # Given a made-up operation, and a ListClusters whose body is not JSON
    # When both are sent
    unknown = raw_call(runtime.stack, "ElasticMapReduce.ExplodeCluster", "{}", "elasticmapreduce")
    garbled = raw_call(runtime.stack, "ElasticMapReduce.ListClusters", "not json", "elasticmapreduce")

    # Then both are refused with JSON errors
    assert (unknown.status_code, unknown.json()["__type"].rsplit("#", 1)[-1]) == (400, "UnknownOperationException")
    assert (garbled.status_code, garbled.json()["__type"].rsplit("#", 1)[-1]) == (400, "SerializationException")


def test_an_emulator_crash_is_an_internal_failure_in_the_protocol_shape_never_html(
    runtime: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever moto raises becomes AWS's InternalFailure (HTTP 500, "The request processing has failed because of
    an unknown error, exception or failure", AWS Common Errors) in the protocol's error shape, and says it is the
    emulator's fault; never werkzeug's HTML page."""
    from moto.emr.responses import ElasticMapReduceResponse
    from moto.sns.responses import SNSResponse

    # Given EMR's ListClusters and SNS's ListTopics crash inside moto (fault injection)
    def crash(self: Any) -> Any:
        raise RuntimeError("injected emulator fault")

    monkeypatch.setattr(ElasticMapReduceResponse, "list_clusters", crash)
    monkeypatch.setattr(SNSResponse, "list_topics", crash)

    # When a JSON-protocol and a query-protocol (XML) client call them
    emr_error = error_of(unvalidated_client(runtime.stack, "emr").list_clusters)
    sns_error = error_of(unvalidated_client(runtime.stack, "sns").list_topics)
    raw = raw_call(runtime.stack, "ElasticMapReduce.ListClusters", "{}", "elasticmapreduce")

    # Then both get InternalFailure in their own protocol's shape, naming the emulator's exception
    assert emr_error["Code"] == sns_error["Code"] == "InternalFailure"
    assert "RuntimeError: injected emulator fault" in emr_error["Message"]
    assert "RuntimeError: injected emulator fault" in sns_error["Message"]
    assert raw.status_code == 500
    assert "<html" not in raw.text.lower()
    assert raw.json()["__type"] == "InternalFailure"


def test_a_gzip_compressed_request_is_validated_after_decoding(runtime: Runner) -> None:
    """botocore compresses PutMetricData bodies of 10 KiB or more (Content-Encoding: gzip, the API's request
    compression trait), and CloudWatch accepts them (CloudWatch API reference, PutMetricData). The runtime's request
    validation must read such a body decoded, not refuse it as "not JSON" (found by make bench's reaper at scale)."""
    # Given 1,000 datapoints, enough for botocore to gzip the request
    cloudwatch = runtime.stack.client("cloudwatch")
    data = [
        {"MetricName": "IsIdle", "Dimensions": [{"Name": "JobFlowId", "Value": f"j-{n:013d}"}], "Value": 1.0}
        for n in range(1000)
    ]
    sent: list[str] = []
    cloudwatch.meta.events.register(
        "before-send.cloudwatch.PutMetricData",
        lambda request, **_: sent.append(request.headers.get("Content-Encoding", b"")),
    )

    # When they are put
    cloudwatch.put_metric_data(Namespace="Conformance/Gzip", MetricData=data)

    # Then the request went compressed and was accepted: the metrics are listed
    assert sent and sent[0] in ("gzip", b"gzip")
    listed = cloudwatch.list_metrics(Namespace="Conformance/Gzip")["Metrics"]
    assert len(listed) > 0


def test_start_execution_input_is_limited_in_utf8_bytes(runtime: Runner) -> None:
    """StartExecution input: "Maximum length of 262144 ... Length constraints apply to the payload size, and are
    expressed as bytes in UTF-8 encoding" (API_StartExecution). 70,000 emoji are 70,002 characters of JSON but
    280,002 bytes: refused. moto accepted any size."""
    # Given a state machine and an input over 262,144 UTF-8 bytes but far under 262,144 characters
    machine = runtime.create({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    too_big = json.dumps(ROCKET * 70_000, ensure_ascii=False)
    assert len(too_big) < 262_144 < len(too_big.encode("utf-8"))

    # When it is started with that input
    error = error_of(runtime.sfn.start_execution, stateMachineArn=machine, input=too_big)

    # Then Step Functions refuses it, without echoing the input (the model marks it sensitive)
    assert error["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 262144" in error["Message"]
    assert ROCKET not in error["Message"]


# -- 1. the interpreter's own AWS calls are validated ------------------------------------------------------------
def test_a_task_parameter_of_the_wrong_type_fails_the_task_with_states_runtime(runtime: Runner) -> None:
    """sns:publish with a number for Subject (a String in SNS's model): Step Functions cannot build the request,
    States.Runtime (inferred: concepts-error-handling, "an exception that it could not process"). moto's
    clients do not validate (Config(parameter_validation=False)): the publish went through."""
    # Given a Task whose Subject comes from the input, and an input giving it a number
    definition = task_state(
        "arn:aws:states:::sns:publish",
        {"TopicArn": topic_arn(runtime.stack), "Message": "hello", "Subject.$": "$.subject"},
    )

    # When it runs
    run = runtime.run(definition, {"subject": 42})

    # Then the Task fails with States.Runtime and botocore's reason
    assert run.status == "FAILED"
    event = failure(run)
    assert event["error"] == "States.Runtime"
    assert "Invalid type for parameter Subject" in event["cause"]


def test_a_missing_required_task_parameter_is_the_services_own_error(runtime: Runner) -> None:
    """sns:publish with a message attribute whose DataType (required by SNS's model) resolves to null: the call
    reaches SNS without it and SNS refuses it with InvalidParameter, which the integration names
    SNS.InvalidParameterException (floci PR #3316: SNS integration errors carry the SDK exception class).
    JSON null counts as absent, and the message's wording ("Invalid parameter: <name>", as in moto#1503's AWS
    quote) are inferred. moto's client sent the attribute without a type, and moto published it."""
    # Given a Task whose attribute type comes from the input, and an input where it is null
    definition = task_state(
        "arn:aws:states:::sns:publish",
        {
            "TopicArn": topic_arn(runtime.stack),
            "Message": "hello",
            "MessageAttributes": {"severity": {"DataType.$": "$.type", "StringValue": "INFO"}},
        },
    )

    # When it runs
    run = runtime.run(definition, {"type": None})

    # Then the Task fails with SNS's parameter error, which a Retry or Catch can name
    event = failure(run)
    assert event["error"] == "SNS.InvalidParameterException"
    assert event["cause"].startswith(
        "Invalid parameter: MessageAttributes.severity.DataType (Service: AmazonSNS; Status Code: 400; "
    )
    runtime.stack.collect_notifications()


def test_lambda_invoke_of_a_missing_function_is_lambdas_own_error(runtime: Runner) -> None:
    """lambda:invoke of a function that does not exist: Lambda's Invoke answers 404 ResourceNotFoundException
    "Function not found: <ARN>" (API_Invoke), and "Lambda errors are reported as Lambda.ErrorName"
    (bp-lambda-serviceexception.md). The runtime reported it as if the function had raised
    ResourceNotFoundException itself (a function error, named without the Lambda. prefix)."""
    # Given a Task invoking a function the stack does not have
    definition = task_state("arn:aws:states:::lambda:invoke", {"FunctionName": "no-such-function", "Payload": {}})

    # When it runs
    event = failure(runtime.run(definition))

    # Then it fails with Lambda's error, as the service reports it
    assert event["error"] == "Lambda.ResourceNotFoundException"
    assert event["cause"].startswith(
        f"Function not found: arn:aws:lambda:{REGION}:123456789012:function:no-such-function "
        "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;"
    )


def test_lambda_invoke_parameters_are_checked_as_lambda_checks_them(runtime: Runner) -> None:
    """lambda:invoke with LogType "Everything" (Lambda's model: Tail or None): Lambda refuses the call with a
    ValidationException, a code its model declares no exception for, which Step Functions reports as
    Lambda.AWSLambdaException (inferred: the Java SDK's base class, as EMR's undeclared codes arrive as
    EMR.AmazonElasticMapReduceException in aws/aws-cdk#13735). The handler must not run."""
    # Given a Task invoking a real function with an invalid LogType
    function = runtime.stack.functions["RunStarterFunction"].name
    definition = task_state(
        "arn:aws:states:::lambda:invoke", {"FunctionName": function, "Payload": {}, "LogType.$": "$.log_type"}
    )
    invocations_before = len(runtime.stack.invocations)

    # When it runs
    event = failure(runtime.run(definition, {"log_type": "Everything"}))

    # Then Lambda's refusal fails the Task, and no handler ran
    assert event["error"] == "Lambda.AWSLambdaException"
    assert "Member must satisfy enum value set: [None, Tail]" in event["cause"]
    assert len(runtime.stack.invocations) == invocations_before


# -- 3. AWS limits moto does not enforce ------------------------------------------------------------------------
def test_sns_message_size_counts_utf8_bytes_and_attributes(runtime: Runner) -> None:
    """Publish: "at most 256 KiB in size (262,144 bytes, not 262,144 characters) ... Amazon SNS validates the
    combined size of the message body and message attributes ... and returns an InvalidParameter error"
    (botocore's SNS model, Publish.Message). moto counted characters of the body only."""
    sns = runtime.stack.client("sns")
    topic = topic_arn(runtime.stack)

    # Given three messages: exactly 262,144 bytes; 70,000 emoji (280,000 bytes, 70,000 characters);
    # and 262,000 bytes of body with a 200-byte attribute
    exact = "a" * 262_144
    emoji = ROCKET * 70_000
    attributes = {"note": {"DataType": "String", "StringValue": "b" * 200}}

    # When each is published
    sns.publish(TopicArn=topic, Message=exact)
    emoji_error = error_of(sns.publish, TopicArn=topic, Message=emoji)
    attributes_error = error_of(sns.publish, TopicArn=topic, Message="a" * 262_000, MessageAttributes=attributes)

    # Then only the first is accepted, the others refused as SNS refuses them
    for error in (emoji_error, attributes_error):
        assert error["Code"] == "InvalidParameter"
        assert error["Message"] == "Invalid parameter: Message too long"
    runtime.stack.collect_notifications()


def test_sns_subject_has_no_line_breaks_or_control_characters(runtime: Runner) -> None:
    """Publish.Subject: "UTF-8 text with no line breaks or control characters, and less than 100 characters long"
    (botocore's SNS model); AWS accepts exactly 100 and says "Invalid parameter: Subject" past it (moto#1503).
    moto checked the length only."""
    sns = runtime.stack.client("sns")
    topic = topic_arn(runtime.stack)

    # Given subjects: 100 characters with an emoji; one with a line break; one with a tab; 101 characters
    sns.publish(TopicArn=topic, Message="m", Subject=ROCKET + "s" * 99)

    # When the others are published
    errors = [
        error_of(sns.publish, TopicArn=topic, Message="m", Subject=subject)
        for subject in ("run\nfailed", "run\tfailed", "s" * 101)
    ]

    # Then each is refused as SNS refuses a bad subject
    assert [(e["Code"], e["Message"]) for e in errors] == [("InvalidParameter", "Invalid parameter: Subject")] * 3
    runtime.stack.collect_notifications()


def test_dynamodb_items_over_400_kb_are_refused(runtime: Runner) -> None:
    """DynamoDB: "The maximum item size in DynamoDB is 400 KB" (Service quotas, item size); PutItem answers
    ValidationException "Item size has exceeded the maximum allowed size", UpdateItem "Item size to update has
    exceeded the maximum allowed size". moto 5.2.5 enforces this already (at 405,000 bytes, a little under AWS's
    409,600): this test pins it, it is not something the runtime adds."""
    dynamodb = runtime.stack.client("dynamodb")
    table = runtime.stack.outputs["RunLedgerTableName"]
    key = {"pk": {"S": "LIMIT#test"}, "sk": {"S": "META"}}

    # Given an item of 300 KB
    dynamodb.put_item(TableName=table, Item={**key, "blob": {"S": "x" * 300_000}})

    # When a 410 KB item is put, and the 300 KB one is grown past 400 KB
    put_error = error_of(dynamodb.put_item, TableName=table, Item={**key, "blob": {"S": "x" * 410_000}})
    update_error = error_of(
        dynamodb.update_item,
        TableName=table,
        Key=key,
        UpdateExpression="SET more = :more",
        ExpressionAttributeValues={":more": {"S": "y" * 150_000}},
    )

    # Then both are refused with DynamoDB's messages
    assert (put_error["Code"], put_error["Message"]) == (
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    )
    assert (update_error["Code"], update_error["Message"]) == (
        "ValidationException",
        "Item size to update has exceeded the maximum allowed size",
    )
    dynamodb.delete_item(TableName=table, Key=key)


def test_state_payloads_are_sized_in_utf8_bytes_up_to_and_including_262144(runtime: Runner) -> None:
    """ "262,144 bytes of data as a UTF-8 encoded string" (limits-overview.md). moto sized a state's output as
    ASCII-escaped JSON (an emoji counted 12 bytes, not 4) and refused exactly 262,144 bytes."""
    # Given a Pass state, an input of exactly 262,144 bytes of compact JSON, and one of 50,000 emoji (200,008 bytes)
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    exact = {"t": "a" * (262_144 - len('{"t":""}'))}
    emoji = {"t": ROCKET * 50_000}
    assert len(json.dumps(exact, separators=(",", ":")).encode("utf-8")) == 262_144

    # When each runs (the input as compact UTF-8 JSON: an SDK's ASCII escapes would count 12 bytes per emoji)
    machine = runtime.create(definition)
    started = [
        runtime.sfn.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        )
        for name, payload in (("exact", exact), ("emoji", emoji))
    ]
    runs = [runtime.wait(execution["executionArn"]) for execution in started]

    # Then both succeed, their output intact
    assert [run.status for run in runs] == ["SUCCEEDED", "SUCCEEDED"], [run.execution.get("cause") for run in runs]
    assert runs[0].output == exact
    assert runs[1].output == emoji


def test_a_task_input_over_262144_bytes_is_states_data_limit_exceeded(runtime: Runner) -> None:
    """The quota "affects ... input data when scheduling a task" (limits-overview.md): Parameters resolving to
    more than 262,144 bytes fail the Task with States.DataLimitExceeded before the service is called. moto sent
    the call (and SNS refused it with its own error)."""
    # Given an sns:publish whose Message doubles a 140,000-byte input
    definition = task_state(
        "arn:aws:states:::sns:publish",
        {"TopicArn": topic_arn(runtime.stack), "Message.$": "States.Format('{}{}', $.text, $.text)"},
    )

    # When it runs
    event = failure(runtime.run(definition, {"text": "z" * 140_000}))

    # Then the Task fails with Step Functions' data limit, not SNS's error
    assert event["error"] == "States.DataLimitExceeded"
    assert "262144" in event["cause"]


# -- 4. concurrency ---------------------------------------------------------------------------------------------
PROBE_HANDLER = """
import os
import threading

entered = threading.Event()
release = threading.Event()


def handler(event, context):
    seen = os.environ.get("ROBUSTNESS_PROBE")
    entered.set()
    release.wait(10)
    return {"seen": seen, "still": os.environ.get("ROBUSTNESS_PROBE")}
"""


@pytest.fixture
def probe_function(runtime: Runner, tmp_path: Path) -> Iterator[LocalFunction]:
    """An extra in-process function, with the environment of the stack's own functions plus ROBUSTNESS_PROBE."""
    path = tmp_path / "probe_app.py"
    path.write_text(PROBE_HANDLER, encoding="utf-8")
    environment = {**runtime.stack.functions["RunStarterFunction"].environment, "ROBUSTNESS_PROBE": "probe-value"}
    function = LocalFunction("RobustnessProbe", "robustness-probe", path, "handler", environment, 0)
    runtime.stack.functions["RobustnessProbe"] = function
    try:
        yield function
    finally:
        del runtime.stack.functions["RobustnessProbe"]


def test_a_handlers_environment_is_its_own_and_invisible_to_other_threads(
    runtime: Runner, probe_function: LocalFunction
) -> None:
    """On Lambda each function has its own environment (its own process). In-process, a function's variables were
    set in the process-wide os.environ while it ran: every other thread (moto's server, the interpreter's tasks,
    other handlers) saw them, and lost them mid-read when the handler returned."""
    # Given a handler that reads its variable, then waits in the middle of its invocation
    module = probe_function.module or (probe_function.load() and probe_function.module)
    assert module is not None
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(runtime.stack.invoke("RobustnessProbe", {})))
    worker.start()
    assert module.entered.wait(10)

    # When another thread looks at the environment while the handler runs
    seen_elsewhere = os.environ.get("ROBUSTNESS_PROBE")
    listed_elsewhere = "ROBUSTNESS_PROBE" in dict(os.environ)
    module.release.set()
    worker.join(10)

    # Then only the handler saw its variable, before and after the other thread looked
    assert (seen_elsewhere, listed_elsewhere) == (None, False)
    assert result == {"seen": "probe-value", "still": "probe-value"}
    assert "ROBUSTNESS_PROBE" not in os.environ


def test_handlers_running_do_not_break_other_threads_reading_the_environment(
    runtime: Runner, probe_function: LocalFunction
) -> None:
    """The failure seen with 8 runs in flight ("States.Runtime ... 'POWERTOOLS_SERVICE_NAME'", about 1 execution
    in 24): botocore looks up proxy settings for every client and request (botocore.utils.get_environ_proxies,
    which lists os.environ's keys, then reads each), and a handler returning in another thread removed its
    variables in between. Here one thread invokes a handler back to back while another does botocore's lookup;
    thread switches are made frequent (sys.setswitchinterval) so that a race shows within a second. Without
    per-thread environments this raised KeyError 35 to 78 times in a second (3 runs); with them, never."""
    # Given a handler that returns at once (the probe, released from the start)
    probe_function.load()
    assert probe_function.module is not None
    probe_function.module.release.set()
    stop = threading.Event()
    failures: list[str] = []
    counts = {"lookups": 0, "invocations": 0}

    def invoke_repeatedly() -> None:
        while not stop.is_set():
            runtime.stack.invoke("RobustnessProbe", {})
            counts["invocations"] += 1

    def look_up_proxies() -> None:
        while not stop.is_set():
            try:
                get_environ_proxies(runtime.stack.endpoint)
                urllib.request.getproxies_environment()
            except KeyError as exc:
                failures.append(repr(exc))
            counts["lookups"] += 1

    # When both run together for a second
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    threads = [threading.Thread(target=invoke_repeatedly), threading.Thread(target=look_up_proxies)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        sys.setswitchinterval(switch_interval)

    # Then the lookups never failed (and both sides really ran)
    assert counts["invocations"] > 100 and counts["lookups"] > 100, counts
    assert not failures, f"{len(failures)} KeyErrors in {counts['lookups']} lookups: {failures[:3]}"


MIXED_DEFINITION = json.dumps(
    {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"x.$": "$.y"}, "Next": "C"},
            "C": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "Next": "D"},
            "D": {"Type": "Pass", "Parameters": {"x.$": "$.y"}, "End": True},
        },
    }
)


def test_definitions_parse_the_same_whatever_runs_alongside(runtime: Runner) -> None:
    """Mixing query languages is legal ("individual states can override the query language by setting
    QueryLanguage to JSONata", statemachine-structure). moto's parser kept its query-language scopes in a
    list shared by every parse in the process: executions starting together (each parses its definition in its
    own thread) corrupted each other ("Unsupported declaration in QueryLanguage=JSONPath block"), and one refused
    definition left scopes behind that broke every later mixed definition. Without the fix, 4 threads parsing for
    1 s failed 121 of 129 and 316 of 324 parses; a refused definition broke the next parse every time."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    # Given a definition that is refused (a JSONPath field in a JSONata state machine) parsed first
    refused = json.dumps(
        {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {}, "End": True}}}
    )
    with pytest.raises(Exception, match="Unsupported declaration"):
        AmazonStateLanguageParser.parse(refused)
    errors: list[str] = []
    parses = [0]

    def parse_repeatedly(until: float) -> None:
        while time.monotonic() < until:
            try:
                AmazonStateLanguageParser.parse(MIXED_DEFINITION)
            except Exception as exc:
                errors.append(repr(exc)[:200])
            parses[0] += 1

    # When four threads parse a mixed-language definition at once for half a second
    until = time.monotonic() + 0.5
    threads = [threading.Thread(target=parse_repeatedly, args=(until,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # Then every parse succeeded
    assert parses[0] > 4
    assert errors == []


# -- 5. Unicode -------------------------------------------------------------------------------------------------
def test_jsonata_keeps_non_bmp_characters_and_quotes_intact(runtime: Runner) -> None:
    """JSONata states see the input as it is: "🚀" is one character, and a string variable holding a quote or a
    backslash is a string. moto passed variables to the evaluator as ASCII-escaped JSON text, which jsonata-python
    decoded into two lone surrogates ("surrogates not allowed" at the next UTF-8 encode: States.Runtime), and
    pasted string variables in unescaped."""
    # Given a JSONata state that concatenates input text and an Assign'd string variable
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Keep",
        "States": {
            "Keep": {"Type": "Pass", "Assign": {"quoted": "{% $states.input.quoted %}"}, "Next": "Join"},
            "Join": {
                "Type": "Pass",
                "Output": {"key": "{% 'landing/' & $states.input.dir & '/file.csv' %}", "quoted": "{% $quoted %}"},
                "End": True,
            },
        },
    }

    # When it runs on an input with an emoji and with a quote and a backslash
    run = runtime.run(definition, {"dir": ROCKET, "quoted": 'say "hi" \\ bye'})

    # Then it succeeds, with both values intact
    assert run.status == "SUCCEEDED", run.execution.get("cause")
    assert run.output == {"key": f"landing/{ROCKET}/file.csv", "quoted": 'say "hi" \\ bye'}


def write_jobs(directory: Path, steps: dict[str, list[str]]) -> Path:
    """One job per name, each starting on landing/<name>/*.csv with one command step, the sample job's cluster."""
    directory.mkdir()
    shutil.copytree(REPO_ROOT / "jobs" / "red_violations", directory / "red_violations")
    sample = yaml.safe_load((REPO_ROOT / "jobs" / "red-violations.yaml").read_text(encoding="utf-8"))
    for name, args in steps.items():
        job = {
            "name": name,
            "triggers": {"s3": [{"bucket": "landing", "prefix": f"{name}/", "suffix": ".csv"}]},
            "cluster": sample["cluster"],
            "steps": [{"name": "step 1", "type": "command", "args": args}],
            "run_timeout": "1h",
        }
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return directory


def emoji_jobs(tmp_path: Path) -> Path:
    """Two jobs, each with one step run for real with its input URI as an argument: one succeeds, one fails
    writing the URI to stderr (EMR keeps that line as the failure reason, and the ledger records it)."""
    return write_jobs(
        tmp_path / "emoji-jobs",
        {
            "emoji-ok": ["bash", "-c", 'echo "reading {input_uri}"'],
            "emoji-fail": ["bash", "-c", 'echo "cannot read {input_uri}" >&2; exit 3'],
        },
    )


def test_a_run_on_an_emoji_key_succeeds_and_keeps_the_emoji(runtime: Runner, tmp_path: Path) -> None:
    """S3 object keys are UTF-8 (S3 user guide, "Object key naming guidelines": "any UTF-8 character"). A run on
    landing/🚀/file.csv failed locally at NotifySuccess with "surrogates not allowed"; on AWS it succeeds. The emoji
    must arrive intact in the notifications and in the run ledger."""
    stack = runtime.stack
    stack.deploy_jobs(emoji_jobs(tmp_path))
    already = {execution["executionArn"] for execution in stack.executions()}
    stack.notifications.clear()

    # Given two objects whose keys hold an emoji, one per job
    stack.put_object(f"emoji-ok/{ROCKET}/file.csv", "a,b\n")
    stack.put_object(f"emoji-fail/{ROCKET}/file.csv", "a,b\n")

    # When their runs finish
    stack.settle(timeout=60)

    # Then the run whose step succeeded succeeded, the other failed
    runs = {run_input["run"]["job_name"]: (execution, run_input) for execution, run_input in _runs(stack, already)}
    ok, ok_input = runs["emoji-ok"]
    failed, failed_input = runs["emoji-fail"]
    assert ok["status"] == "SUCCEEDED", ok.get("cause")
    assert failed["status"] == "FAILED"
    assert ok_input["run"]["input_uri"].endswith(f"emoji-ok/{ROCKET}/file.csv")

    # And each run's notification names its input with the emoji intact
    for execution, run_input in (runs["emoji-ok"], runs["emoji-fail"]):
        notices = [n for n in stack.notifications if execution["executionArn"] in n.message]
        assert notices, f"no notification for {execution['name']}"
        assert all(run_input["run"]["input_uri"] in notice.message for notice in notices)

    # And the ledger recorded the failed step's reason, emoji and all
    ledger = stack.client("dynamodb").scan(TableName=stack.outputs["RunLedgerTableName"])["Items"]
    reasons = [item["failure_reason"]["S"] for item in ledger if "failure_reason" in item]
    assert f"cannot read {failed_input['run']['input_uri']}" in reasons


def _runs(stack: LocalRuntime, exclude: set[str]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for execution in stack.executions():
        if execution["executionArn"] not in exclude:
            yield execution, json.loads(execution["input"])
