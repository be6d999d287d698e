"""emr-autopilot's shared package: shipped in the Lambda layer, imported by every handler.

Every class defined here is defined again at each cold start, so on Python 3.11 (see `make bench`):
- immutable records are typing.NamedTuple, not frozen dataclasses: about 0.15 ms to define instead
  of 0.5-0.7 ms (dataclasses compiles each generated method separately);
- no module uses `from __future__ import annotations`: pydantic and NamedTuple would compile and
  evaluate every string annotation at import. Forward references are quoted, or `Self`.
"""

__version__ = "0.1.0"
