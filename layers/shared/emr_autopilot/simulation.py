"""Steps a job marks `simulate: true`: not run, and said to be SIMULATED wherever a person looks.

Such a step still goes to EMR, in the step's place: a command-runner.jar `echo` of the command line it
stands for, with MARK at the end of its name. EMR runs the echo (it exits 0), and so does the local
runtime, so a simulated run means the same thing on AWS and on this machine. The name carries the mark
into EMR's step events, the console, the run ledger and `emr-autopilot runs`; the run's input carries
`run.outcome` = SIMULATED into the state machine's success notification.
"""

from typing import Any

MARK = "[SIMULATED]"
ECHO_PREFIX = "emr-autopilot: SIMULATED, not run:"
_NAME_MAX = 256  # StepConfig.Name, EMR API reference


def simulated_step(config: dict[str, Any]) -> dict[str, Any]:
    """The StepConfig that stands for `config` (a rendered StepConfig) without running it."""
    jar_step = config["HadoopJarStep"]
    command = list(jar_step.get("Args", []))
    if jar_step["Jar"] != "command-runner.jar":
        command = [jar_step["Jar"], *command]
    name = str(config["Name"])[: _NAME_MAX - len(MARK) - 1]
    return {
        **config,
        "Name": f"{name} {MARK}",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["echo", ECHO_PREFIX, *command]},
    }


def is_simulated_args(args: list[str]) -> bool:
    """command-runner.jar arguments of a step rendered by simulated_step."""
    return len(args) >= 2 and args[0] == "echo" and args[1] == ECHO_PREFIX


def is_simulated_name(name: str | None) -> bool:
    return bool(name) and str(name).endswith(f" {MARK}")
