"""Domain exceptions. Their class names are what a Lambda reports as errorType,
so an ASL Catch or an alarm can match them by name."""

from typing import Any, Self


class AutopilotError(Exception):
    """Base of every error this package raises on purpose."""


class JobDefinitionError(AutopilotError):
    """One or more job files are invalid; each problem names the file, field and reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))

    @classmethod
    def combine(cls, errors: list["JobDefinitionError"]) -> Self:
        lines = [f"{error.source}: {problem}" for error in errors for problem in error.problems]
        combined = cls("jobs", [])
        combined.problems = lines
        combined.args = ("\n".join(lines),)
        return combined


class InvalidEvent(AutopilotError):
    """The event does not have the shape this handler accepts. Never retried."""

    @classmethod
    def from_validation(cls, what: str, exc: Any) -> Self:
        """From a pydantic ValidationError on a state machine's payload: each problem as `field: message`."""
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors())
        return cls(f"{what} payload is invalid: {problems}")


class UnknownJob(AutopilotError):
    """A run was asked for a job that is not in the deployed catalog."""


class CatalogNotDeployed(AutopilotError):
    """The job catalog object is missing: run `emr-autopilot jobs deploy`."""


# -- Livy path: each name is what LivyBatchPipeline's Retry and Catch match.
class InvalidLivyRequest(AutopilotError):
    """The Livy run's input (or the job it names) cannot be turned into a Livy batch."""


class ClusterNotReady(AutopilotError):
    """The cluster exists but is not RUNNING or WAITING yet (or does not exist at all)."""


class LivyNotInstalled(AutopilotError):
    """The cluster runs without the Livy application, so there is nothing to submit to."""


class LivyError(AutopilotError):
    """Base of the Livy client's errors."""


class ClusterGone(LivyError):
    """The cluster's primary node no longer exists (terminating or terminated, or its name does not resolve)."""


class LivyUnavailable(LivyError):
    """Livy could not be reached, or kept answering 5xx, after the client's bounded retries."""


class BatchNotFound(LivyError):
    """Livy does not know the batch id (deleted, or Livy restarted without recovery)."""


class LivyHttpError(LivyError):
    """Livy rejected the request (4xx); the message is Livy's own."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.livy_message = message
        super().__init__(f"Livy answered HTTP {status}: {message}")
