"""The `emr-autopilot` command: jobs, runs, the idle reaper, and the local runtime (one module each)."""

from __future__ import annotations

import click

from emr_autopilot_devkit.cli.common import Commands
from emr_autopilot_devkit.cli.jobs import jobs
from emr_autopilot_devkit.cli.local import local
from emr_autopilot_devkit.cli.reap import reap
from emr_autopilot_devkit.cli.runs import run, runs


@click.group(cls=Commands)
@click.version_option(package_name="emr-autopilot")
def main() -> None:
    """Event-driven Amazon EMR: transient-cluster pipelines, run from S3, schedules or by hand."""


for command in (jobs, run, runs, reap, local):
    main.add_command(command)

__all__ = ["main", "reap"]
