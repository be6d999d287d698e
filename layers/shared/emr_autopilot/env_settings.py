"""Settings read from environment variables, validated by pydantic.

Not pydantic-settings: importing it costs ~50 ms of every Lambda cold start, for what these
lines do (field NAME is read from $NAME; dict and list fields take JSON).
"""

import json
import os
import typing
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_env(cls) -> Self:
        """Validated from the environment; a missing or bad value raises ValidationError."""
        return cls.model_validate(_from_environment(cls))


def _from_environment(model: type[BaseModel]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        raw = os.environ.get(name.upper())
        if raw is None:
            continue
        structured = {typing.get_origin(field.annotation), field.annotation} & {dict, list}
        values[name] = json.loads(raw) if structured and raw.strip() else raw
    return values
