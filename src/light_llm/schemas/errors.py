"""What a spec that cannot be used reports: every problem as `path: message`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from light_llm.errors import MAX_LINE, LightLLMError
from light_llm.formatting import shorten

Path = tuple[str | int, ...]
"""Location of a value inside the spec: keys of mappings and indexes of lists."""

TOP_LEVEL = "(top level)"
MAX_KEY = 60
MAX_SOURCE = 200
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def format_path(path: Path) -> str:
    """`model.attention.num_kv_heads`, `data.corpus[2]`; odd keys are quoted: `model['a b']`."""
    text = ""
    for part in (shorten(part, MAX_KEY) if isinstance(part, str) else part for part in path):
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or TOP_LEVEL


@dataclass(frozen=True, order=True)
class SpecIssue:
    path: Path
    message: str

    def __str__(self) -> str:
        return shorten(f"{format_path(self.path)}: {self.message}", MAX_LINE)


class SpecError(LightLLMError):
    """A spec that cannot be read or is invalid. `source` names the file (or `<dict>`);
    `issues` holds every problem found. A file that cannot be read at all has one issue
    with an empty path and prints as one line: `source: message`."""

    def __init__(self, source: str, issues: list[SpecIssue]):
        self.source = source
        self.issues = issues
        super().__init__(self._render())

    def lines(self) -> list[str]:
        """Every issue as `path: message` (the message alone where there is no path)."""
        return [str(issue) if issue.path else shorten(issue.message, MAX_LINE) for issue in self.issues]

    def _render(self) -> str:
        if len(self.issues) == 1 and not self.issues[0].path:
            return shorten(f"{shorten(self.source, MAX_SOURCE)}: {self.issues[0].message}", MAX_LINE)
        count = len(self.issues)
        header = f"{shorten(self.source, MAX_SOURCE)}: {count} error{'s' if count != 1 else ''}"
        return "\n".join([header, *(shorten(f"  {line}", MAX_LINE) for line in self.lines())])


def unreadable(source: str, message: str) -> SpecError:
    """A SpecError for a file that could not be turned into data at all."""
    return SpecError(source, [SpecIssue((), message)])
