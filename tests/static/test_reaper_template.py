"""The idle reaper's template wiring: parameters reach the function, defaults agree everywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from emr_autopilot.reaper import ReaperConfig, ReaperSettings, parse_duration
from emr_autopilot_devkit import cli
from tests.helpers.template import function_properties, load_template

FUNCTION = "IdleReaperFunction"
ENV_TO_PARAMETER = {
    "REAPER_IDLE_THRESHOLD_MINUTES": "ReaperIdleThresholdMinutes",
    "REAPER_GRACE_MINUTES": "ReaperGraceMinutes",
    "REAPER_MAX_TERMINATIONS_PER_RUN": "ReaperMaxTerminationsPerRun",
    "REAPER_DRY_RUN": "ReaperDryRun",
    "REAPER_SCOPE_TAG": "ReaperScopeTag",
    "REAPER_OPT_OUT_TAG": "ReaperOptOutTag",
    "REAPER_HEAL_MODE": "ReaperHealMode",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_every_reaper_parameter_reaches_the_function_by_the_name_its_settings_read(template: dict[str, Any]) -> None:
    # Given the reaper function's environment
    env = function_properties(template, template["Resources"][FUNCTION])["Environment"]["Variables"]
    # When its REAPER_* variables are compared with the parameters and the settings model
    wired = {name: value for name, value in env.items() if name.startswith("REAPER_")}
    # Then each one is a Ref to its parameter, and the settings model reads exactly these
    assert wired == {name: {"Ref": parameter} for name, parameter in ENV_TO_PARAMETER.items()}
    assert {field.upper() for field in ReaperSettings.model_fields if field.startswith("reaper_")} == set(wired)


def test_template_defaults_are_the_reapers_defaults(template: dict[str, Any]) -> None:
    # Given the template's parameter defaults, as the function would receive them
    environment = {name: str(template["Parameters"][p]["Default"]) for name, p in ENV_TO_PARAMETER.items()}
    # When they are read by the function's settings
    settings = ReaperSettings(notification_topic_arn="arn:aws:sns:us-east-1:123456789012:t", **environment)
    # Then they make the default config (a dry run until someone decides otherwise)
    assert settings.config() == ReaperConfig()
    assert ReaperConfig().dry_run is True


def test_the_cli_defaults_are_the_reapers_defaults() -> None:
    # Given the `reap` command's options
    options = {param.name: param.default for param in cli.reap.params}
    # When they are read as a config
    config = ReaperConfig(
        idle_threshold=parse_duration(options["threshold"]),
        grace=parse_duration(options["grace"]),
        max_terminations=options["max_terminations"],
        opt_out=options["opt_out_tag"],
        scope=options["scope_tag"],
    )
    # Then they are the scheduled reaper's defaults
    assert config == ReaperConfig()
    assert config.idle_threshold == timedelta(minutes=60)


def test_the_reaper_runs_on_its_schedule_parameter_one_sweep_at_a_time(template: dict[str, Any]) -> None:
    # Given the reaper function
    props = function_properties(template, template["Resources"][FUNCTION])
    # When its events and concurrency are read
    (event,) = props["Events"].values()
    # Then it is scheduled by the parameter, never retried, and never runs twice at once (the cap stays a cap);
    # a tick EventBridge could not deliver is kept in the dead-letter queue
    assert event == {
        "Type": "Schedule",
        "Properties": {
            "Schedule": {"Ref": "ReaperScheduleExpression"},
            "Description": "Idle-cluster reaper scan.",
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["FunctionDeadLetterQueue", "Arn"]}},
        },
    }
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert props["ReservedConcurrentExecutions"] == 1
