"""Domain exceptions. Their class names are what a Lambda reports as errorType,
so an ASL Catch or an alarm can match them by name."""

from __future__ import annotations


class AutopilotError(Exception):
    """Base of every error this package raises on purpose."""


class JobDefinitionError(AutopilotError):
    """One or more job files are invalid; each problem names the file, field and reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))

    @classmethod
    def combine(cls, errors: list[JobDefinitionError]) -> JobDefinitionError:
        lines = [f"{error.source}: {problem}" for error in errors for problem in error.problems]
        combined = cls("jobs", [])
        combined.problems = lines
        combined.args = ("\n".join(lines),)
        return combined


class InvalidEvent(AutopilotError):
    """The event does not have the shape this handler accepts. Never retried."""


class UnknownJob(AutopilotError):
    """A run was asked for a job that is not in the deployed catalog."""


class CatalogNotDeployed(AutopilotError):
    """The job catalog object is missing: run `emr-autopilot jobs deploy`."""
