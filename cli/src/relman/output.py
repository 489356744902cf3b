"""Where things go: results on stdout (a table or summary, or exactly one JSON document), messages on stderr.

What is printed for people holds no control characters but newline and tab: a release's title or notes,
or any other text from the server, can't clear the screen, move the cursor or retitle the terminal.
JSON is printed exact (its escaping already keeps control characters out of the terminal)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

MODE = {"output": "text"}
"""`text` or `json`, set by `--output` (or RELMAN_OUTPUT)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


def is_json() -> bool:
    return MODE["output"] == "json"


def say(message: str) -> None:
    """A message for the person or the log: always stderr, so stdout stays the result."""
    print(printable(message, keep="\n\t"), file=sys.stderr, flush=True)


def result(document: Any, render: Callable[[Any], str] | None = None) -> None:
    """The command's result: the JSON document as is, or its rendering for people."""
    if is_json():
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    else:
        text = render(document) if render is not None else json.dumps(document, indent=2, default=str)
        if text:
            sys.stdout.write(printable(text, keep="\n\t").rstrip("\n") + "\n")
    sys.stdout.flush()


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Aligned columns with a header; empty cells as `-`."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    if not cells:
        return "(none)"
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def summary(pairs: Sequence[tuple[str, Any]]) -> str:
    """`label: value` lines, labels aligned, empty values left out."""
    shown = [(label, _cell(value)) for label, value in pairs if value not in (None, "", [], {})]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in shown)


def block(label: str, text: str) -> str:
    """Multi-line text (release notes) under its label, each line indented; newlines and tabs kept."""
    lines = printable(text, keep="\n\t").splitlines() or [""]
    return f"{label}:\n" + "\n".join(f"  {line}".rstrip() for line in lines)


def printable(text: str, keep: str = "") -> str:
    """`text` without its control characters (C0, DEL, C1) but those in `keep`."""
    return _CONTROL.sub(lambda found: found[0] if found[0] in keep else "", text)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(str(value))  # one line: a newline would make a row of its own
