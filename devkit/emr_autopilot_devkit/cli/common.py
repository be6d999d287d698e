"""What every command shares: failing with a reason, paths, and the stack a command works on."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
import click

if TYPE_CHECKING:
    from emr_autopilot_devkit.deploy_jobs import StackOutputs

LOCAL_STATE = Path(".local-runtime/stack.json")


def fail(message: str) -> NoReturn:
    click.echo(click.style("error: ", fg="red") + message, err=True)
    sys.exit(1)


class PathArg(click.Path):
    """click.Path, refusing a NUL byte with a reason: click's os.stat raises ValueError there, a traceback."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if "\x00" in str(value):
            self.fail(f"{str(value)[:80]!r} contains a NUL byte; a path cannot", param, ctx)
        return super().convert(value, param, ctx)


class Commands(click.Group):
    """Any AWS error a command does not handle itself ends it with the error's message, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().invoke(ctx)
        except (ClientError, BotoCoreError) as exc:
            fail(f"AWS: {exc}")


def region() -> str:
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"


def read_outputs(stack_name: str | None, local: bool) -> dict[str, str]:
    return read_stack(stack_name, local).values


def running_local_state() -> dict[str, Any]:
    """The state `local up` recorded, if that runtime still runs; a leftover file is removed, with a reason."""
    from emr_autopilot_devkit.local import state_file

    state = state_file.read(LOCAL_STATE)
    if state is None:
        fail("no local runtime is running: start one with `emr-autopilot local up`")
    if not state_file.is_running(state):
        LOCAL_STATE.unlink(missing_ok=True)
        fail(
            f"the local runtime recorded in {LOCAL_STATE} ({state_file.describe(state)}) is not running "
            "(removed the stale file): start `emr-autopilot local up`"
        )
    return state


def read_stack(stack_name: str | None, local: bool) -> StackOutputs:
    """The stack's outputs and parameters (StackOutputs): CloudFormation's, or those of `local up`."""
    from emr_autopilot_devkit.deploy_jobs import StackOutputs

    if local:
        state = running_local_state()
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": state["endpoint"],
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": state["region"],
            }
        )
        notified = state.get("notified_buckets")
        return StackOutputs(dict(state["outputs"]), notified_buckets=frozenset(notified) if notified else None)
    if not stack_name:
        fail("--stack-name is required (or --local for the local runtime)")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:  # no such stack, no credentials, no region: a reason, not a traceback
        fail(f"cannot read the outputs of stack {stack_name!r}: {exc}")
    return StackOutputs(
        {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])},
        {item["ParameterKey"]: item.get("ParameterValue", "") for item in stacks[0].get("Parameters", [])},
    )


stack_option = click.option(
    "--stack-name", envvar="EMR_AUTOPILOT_STACK", help="The deployed stack (default: $EMR_AUTOPILOT_STACK)."
)
local_option = click.option("--local", is_flag=True, help="Use the stack of `emr-autopilot local up`.")
