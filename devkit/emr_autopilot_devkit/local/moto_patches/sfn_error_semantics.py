"""Step Functions' error semantics where moto 5.2.5's interpreter differs from AWS's documentation.

- States.ALL does not catch or retry States.Runtime or States.DataLimitExceeded. Step Functions guide,
  "Handling errors in Step Functions workflows" (concepts-error-handling), States.ALL: "must appear alone
  in a Catcher and cannot catch the States.DataLimitExceeded terminal error or Runtime error types".
  moto matches States.ALL against every error, so a Catch-all hid failures AWS would end the execution with.
- A JSONata expression that fails while it is evaluated (a type error, `$error(...)`) is
  States.QueryEvaluationError, which a Catch can handle. Same page, error names table:
  "States.QueryEvaluationError: Query evaluation failed in a JSONata expression"; the ASL spec's error
  table (states-language.net, Appendix A) names it too. moto surfaced such failures as States.Runtime.
"""

import functools
from typing import Any, Final

_UNCATCHABLE_BY_ALL: Final = frozenset({"States.Runtime", "States.DataLimitExceeded"})


@functools.cache  # installs once per process
def install() -> None:
    _states_all_skips_terminal_errors()
    _jsonata_failures_are_query_evaluation_errors()


def _states_all_skips_terminal_errors() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

    original = ErrorEqualsDecl._eval_body

    def eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        if getattr(error_name, "error_name", None) == "States.Runtime":
            env.stack.pop()
            env.stack.append(False)  # "aren't retriable and will always cause the execution to fail"
            return
        if getattr(error_name, "error_name", None) in _UNCATCHABLE_BY_ALL and all(
            name.error_name == "States.ALL" for name in self.error_names
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = eval_body  # type: ignore[method-assign]


def _jsonata_failures_are_query_evaluation_errors() -> None:
    import jsonata
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringJSONata
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StringJSONata._eval_body

    def eval_body(self: Any, env: Any) -> None:
        try:
            original(self, env)
        except jsonata.JException as exc:
            error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
            # The cause's wording is inferred; AWS documents the error name, not its cause text.
            cause = (
                f"An error occurred while executing the state. The JSONata expression '{self.expression}' failed: {exc}"
            )
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=error_name,
                    event_type=HistoryEventType.EvaluationFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        evaluationFailedEventDetails=EvaluationFailedEventDetails(
                            error=error_name.error_name, cause=cause
                        )
                    ),
                )
            ) from exc

    StringJSONata._eval_body = eval_body  # type: ignore[method-assign]
