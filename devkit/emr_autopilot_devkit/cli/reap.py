"""`emr-autopilot reap`: the idle reaper's rules, run by hand."""

from __future__ import annotations

import sys

import click

from emr_autopilot_devkit.cli.common import fail, local_option, read_outputs, region, stack_option


@click.command("reap")
@click.option("--dry-run", is_flag=True, help="Decide and report; terminate nothing.")
@click.option("--threshold", default="60m", show_default=True, help="Idle time before termination (30m, 2h, ...).")
@click.option("--grace", default="30m", show_default=True, help="Clusters younger than this are left alone.")
@click.option("--max-terminations", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--scope-tag", default="", help="Only clusters tagged key=value (or key); default: all.")
@click.option("--opt-out-tag", default="emr-autopilot:reaper=skip", show_default=True)
@click.option("--heal", is_flag=True, help="Also add an AutoTerminationPolicy where a cluster has none.")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
@click.option("--yes", is_flag=True, help="Do not ask before terminating (needed off a terminal).")
@stack_option
@local_option
def reap(
    dry_run: bool,
    threshold: str,
    grace: str,
    max_terminations: int,
    scope_tag: str,
    opt_out_tag: str,
    heal: bool,
    as_json: bool,
    yes: bool,
    stack_name: str | None,
    local: bool,
) -> None:
    """Terminate idle WAITING clusters, with the scheduled reaper's rules; one row per cluster says why."""
    from pydantic import ValidationError

    from emr_autopilot import reaper
    from emr_autopilot_devkit.reap import describe_config_error, duration_option, format_table, report_json, scan_time

    try:  # the options first: a typo is named before any AWS call
        idle_threshold = duration_option("--threshold", threshold, "90m")
        grace_period = duration_option("--grace", grace, "30m")
    except ValueError as exc:
        fail(str(exc))
    read_outputs(stack_name, local)
    try:
        config = reaper.ReaperConfig(
            idle_threshold=idle_threshold,
            grace=grace_period,
            max_terminations=max_terminations,
            dry_run=dry_run,
            scope=scope_tag,
            opt_out=opt_out_tag,
            heal=heal,
            region=region(),
        )
    except ValidationError as exc:
        fail(describe_config_error(exc))
    now = scan_time(local)
    if now is None:
        fail("the local runtime's clock is unknown: is `emr-autopilot local up` running from this directory?")
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            fail("this terminates clusters: pass --yes, or --dry-run to only see the decisions")
        click.confirm(f"Terminate up to {max_terminations} idle cluster(s) in {config.region}?", abort=True)
    report = reaper.reap(config, now)
    click.echo(report_json(report) if as_json else format_table(report))
    sys.exit(1 if report.with_action("error") else 0)
