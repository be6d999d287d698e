"""Two moto 5.2.5 interpreter bugs that AWS does not have: one under concurrency, one with non-BMP text.

1. The ASL parser's QueryLanguage scope stack is a class attribute of Preprocessor
   (moto/stepfunctions/parser/asl/parse/preprocessor.py: `_query_language_per_scope: list = []`),
   shared by every parse in the process. Two executions starting at once (each parses its definition
   in its own thread) push and pop on the same list, so a JSONPath state can be checked against a
   JSONata scope: "Unsupported declaration in QueryLanguage=JSONPath block", the execution thread dies
   and the execution stays RUNNING. A parse that fails half-way leaves its scopes on the list, so one
   refused definition makes every later mixed-language parse in the process fail. Fix: one list per
   Preprocessor instance (a parse creates one).

2. moto hands JSONata its variables ($states, Assign'd ones) as text, `$x := <json.dumps(value)>;`,
   so "🚀" travels as the escapes "\\ud83d\\ude80"; jsonata-python decodes each \\u escape to one code point
   and never joins the pair, and the string then holds two lone surrogates. The first UTF-8 encode
   (a boto call, the history) fails: "surrogates not allowed" (AWS: the run succeeds and the emoji
   arrives intact). A string variable was also pasted in unescaped (f'"{value}"'), so a quote or a
   backslash in it broke the expression. Fix: encode every value with json.dumps(ensure_ascii=False)
   (non-ASCII text travels as itself, quotes and backslashes escaped), and join surrogate pairs in what
   an expression returns (a literal "\\ud83d\\ude80" in an expression is one character, as in JavaScript,
   whose JSONata AWS documents).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any


def join_surrogate_pairs(value: Any) -> Any:
    """`value` with every UTF-16 surrogate pair in its strings joined into the one character it encodes."""
    if isinstance(value, str):
        if not any("\ud800" <= char <= "\udfff" for char in value):
            return value
        # Lone surrogates stay as they are (surrogatepass both ways); only valid pairs are joined.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(value, list):
        return [join_surrogate_pairs(item) for item in value]
    if isinstance(value, dict):
        return {join_surrogate_pairs(key): join_surrogate_pairs(item) for key, item in value.items()}
    return value


@functools.cache  # installs once per process
def install() -> None:
    _install_per_parse_query_language_scopes()
    _install_jsonata_unicode()


def _install_per_parse_query_language_scopes() -> None:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original_init = Preprocessor.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._query_language_per_scope = []

    Preprocessor.__init__ = init  # type: ignore[method-assign]


def _install_jsonata_unicode() -> None:
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.jsonata import jsonata, validations
    from moto.stepfunctions.parser.asl.utils.encoding import _DateTimeEncoder

    def encode_jsonata_variable_declarations(bindings: dict[str, Any]) -> str:
        return "".join(
            f"{reference}:={json.dumps(value, cls=_DateTimeEncoder, ensure_ascii=False, separators=(',', ':'))};"
            for reference, value in bindings.items()
        )

    # Imported by name where used: replace every binding.
    for module in (jsonata, states, variable_store):
        module.encode_jsonata_variable_declarations = encode_jsonata_variable_declarations  # type: ignore[attr-defined]

    original_eval: Callable[[str], Any] = jsonata.eval_jsonata_expression

    def eval_jsonata_expression(expression: str) -> Any:
        return join_surrogate_pairs(original_eval(expression))

    for module in (jsonata, string_expression, validations):
        module.eval_jsonata_expression = eval_jsonata_expression  # type: ignore[attr-defined]
