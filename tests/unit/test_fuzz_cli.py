"""The `emr-autopilot` command, fuzzed with click's CliRunner: each command with any arguments.

Whatever is typed, the command must end with exit code 0 (done), 1 (refused, with a reason) or 2
(click's usage error), never with a traceback. AWS is moto in this process (no stack exists), and
the working directory is empty (no local runtime is up). The `local` commands that start a stack
(demo, up, invoke, reliability) are left out: they do not read free-form input beyond a file name."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from emr_autopilot import aws
from emr_autopilot_devkit.cli import main
from tests.helpers.fuzzing import WEIRD_STRINGS, Tally, fuzz_settings

TALLY = Tally()
COMMANDS = [["jobs", "validate"], ["jobs", "deploy"], ["run"], ["runs"], ["runs", "show"], ["reap"], []]
OPTIONS = [
    "--stack-name", "--local", "--input", "--name", "--wait", "--no-wait", "--jobs-dir", "--job", "--status",
    "--since", "--limit", "--json", "--dry-run", "--threshold", "--grace", "--max-terminations", "--scope-tag",
    "--opt-out-tag", "--heal", "--yes", "--prune", "--help", "--version", "red-violations", "s3://b/k.csv", "7d", "-1",
    "0", "FAILED", "emr-autopilot", "jobs", "j-2AXXXXXXGAPLF", "--",
]  # fmt: skip
LOCAL_RUNTIME = {"demo", "up", "invoke", "reliability"}  # start a local runtime: never from a fuzzed argument
STACK = "fuzz-stack"  # exists in moto, with outputs naming resources that do not (a half-deployed stack)
words = st.one_of(st.sampled_from(OPTIONS), st.text(max_size=30), st.sampled_from(WEIRD_STRINGS[:-2]))
values = st.one_of(words, st.integers(-5, 10**6).map(str))
# Each command's own options with any value: gets past click's parsing into the command's code.
OWN_OPTIONS = {
    "jobs validate": ["--jobs-dir"],
    "jobs deploy": ["--jobs-dir"],
    "run": ["--input", "--name"],
    "runs": ["--job", "--status", "--since", "--limit"],
    "runs show": [],
    "reap": ["--threshold", "--grace", "--max-terminations", "--scope-tag", "--opt-out-tag"],
    "": [],
}
FLAGS = {
    "run": ["--wait"],
    "runs": ["--json"],
    "reap": ["--dry-run", "--heal", "--json", "--yes"],
    "jobs deploy": ["--prune", "--dry-run"],
}


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    command = draw(st.sampled_from(COMMANDS))
    name = " ".join(command)
    rest: list[str] = []
    if name in ("run", "runs show"):
        rest.append(draw(values))  # the positional argument
    for option in draw(st.lists(st.sampled_from(OWN_OPTIONS[name]), unique=True)) if OWN_OPTIONS[name] else []:
        rest += [option, draw(values)]
    rest += draw(st.lists(st.sampled_from(FLAGS.get(name, ["--help"])), unique=True, max_size=2))
    rest += draw(st.sampled_from([["--stack-name", STACK], ["--stack-name", "no-such-stack"], ["--local"], []]))
    return command, rest + draw(st.lists(words, max_size=2) | st.just([]))


@pytest.fixture(scope="module")
def runner() -> Iterator[CliRunner]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL", raising=False)  # a local runtime of another test may have set it
        patch.delenv("EMR_AUTOPILOT_STACK", raising=False)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }.items():
            patch.setenv(key, value)
        aws.reset_clients()
        with mock_aws():
            _half_deployed_stack()
            yield CliRunner()
    aws.reset_clients()
    TALLY.write("cli")


def _half_deployed_stack() -> None:
    """A stack whose outputs name a bucket, table and state machine that were never created."""
    outputs = {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:gone",
        "LandingBucketName": "gone-landing",
        "CuratedBucketName": "gone-curated",
        "ArtifactsBucketName": "gone-artifacts",
        "LogsBucketName": "gone-logs",
        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:gone",
        "ScheduleGroupName": "gone",
        "SchedulerRoleArn": "arn:aws:iam::123456789012:role/gone",
        "EmrServiceRoleName": "EMR_DefaultRole",
        "EmrInstanceRoleName": "EMR_EC2_DefaultRole",
        "RunLedgerTableName": "gone-ledger",
    }
    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


@fuzz_settings()
@given(line=command_lines())
def test_any_arguments_end_in_a_reason_not_a_traceback(runner: CliRunner, line: tuple[list[str], list[str]]) -> None:
    # Given any command line (never one that would start the local runtime)
    command, rest = line
    args = [*command, *rest]
    if args[:1] == ["local"] or LOCAL_RUNTIME & set(args[:2]):
        return

    # When it runs in an empty directory, against an AWS account without the stack
    with runner.isolated_filesystem():
        result = runner.invoke(main, args, catch_exceptions=True)

    # Then it ended on purpose: done, refused with a reason, or a usage error
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    TALLY.add(" ".join(command) or "(no command)", "unhandled" if crashed else f"exit {result.exit_code}")
    assert not crashed, f"{args}: {result.exception!r}\n{result.output[-2000:]}"
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-2000:])


@pytest.mark.parametrize(
    "args",
    [
        ["run", "red-violations", "--stack-name", "no-such-stack"],
        ["runs", "--stack-name", "no-such-stack"],
        ["reap", "--dry-run", "--stack-name", "no-such-stack"],
        ["jobs", "deploy", "--stack-name", "no-such-stack"],
    ],
)
def test_a_stack_that_does_not_exist_is_named_not_a_traceback(runner: CliRunner, args: list[str]) -> None:
    # Given a stack name that is not deployed
    # When a command that reads its outputs runs
    with runner.isolated_filesystem():
        result = runner.invoke(main, args, catch_exceptions=True)
    # Then it says so and exits 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "no-such-stack" in result.output
