"""EventBridge Scheduler's CreateSchedule/UpdateSchedule refuse an expression the service cannot run.

moto 5.2.5 stores any ScheduleExpression, so a `rate(1 minutes)` deadline or job schedule was "live" locally
and refused on AWS. The rules are the job validator's (emr_autopilot.schedules, from the Scheduler user guide,
"Schedule types"), so the runtime and `jobs validate` cannot disagree. The error is ValidationException, the
API's documented error for invalid input (Scheduler API reference, CreateSchedule, Errors); its message
wording is inferred.
"""

import functools
from typing import Any


@functools.cache  # installs once per process
def install() -> None:
    from moto.scheduler.exceptions import ValidationException
    from moto.scheduler.models import EventBridgeSchedulerBackend

    from emr_autopilot.schedules import ScheduleError, check_schedule

    def checked(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            expression = kwargs.get("schedule_expression")
            if expression is not None:
                try:
                    check_schedule(expression)
                except ScheduleError as exc:
                    raise ValidationException(f"Invalid Schedule Expression {expression}: {exc}") from exc
            return original(self, *args, **kwargs)

        return call

    for name in ("create_schedule", "update_schedule"):
        setattr(EventBridgeSchedulerBackend, name, checked(getattr(EventBridgeSchedulerBackend, name)))
