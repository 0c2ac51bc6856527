"""Text from Prometheus made safe to print: control and bidi characters escaped.

Label values are whatever a service put there. Before a label value, an error message or
a URL reaches a terminal, it goes through :func:`printable`: C0/C1 control characters
(ESC, BEL, BS, CR, ...) and the Unicode bidi controls that reorder what a reader sees
(RLO, LRI, ...) become visible ``\\x1b`` / ``\\u202e`` escapes. :func:`csv_cell` also
stops a spreadsheet from running a cell as a formula.

>>> printable("ok\\x1b[31m red\\u202e")
'ok\\\\x1b[31m red\\\\u202e'
>>> csv_cell(" \\r=HYPERLINK(1)")
"' \\r=HYPERLINK(1)"
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace
from typing import Any, Final, TypeVar

T = TypeVar("T", bound=Any)

#: C0 controls but tab and newline's text meaning (both escaped too: one line per value),
#: DEL, C1 controls, and the bidi embedding/override/isolate controls and marks.
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)
#: A spreadsheet runs a cell as a formula when it starts with one of these, also after
#: leading blanks or line breaks.
_FORMULA: Final = re.compile(r"^[\s\x00-\x1f]*[=+\-@\t\r]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control and bidi character shown as an escape."""
    return _UNSAFE.sub(_escape, text)


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: formula-like cells get a leading ``'``."""
    return "'" + text if _FORMULA.match(text) else text


def printable_copy(value: T) -> T:
    """A deep copy of a dataclass tree (lists, dicts, strings) with every string, dict key
    included, passed through :func:`printable`: what the text and HTML renderers print."""
    if isinstance(value, str):
        return printable(value)  # type: ignore[return-value]
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: printable_copy(getattr(value, f.name)) for f in fields(value)}
        return replace(value, **changes)
    if isinstance(value, dict):
        return {printable_copy(k): printable_copy(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [printable_copy(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(printable_copy(v) for v in value)  # type: ignore[return-value]
    return value
