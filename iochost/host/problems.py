"""Config problems: each names file, line and key; all of them are reported at once."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a mistyped ``name``, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, order=True)
class Location:
    """Where something was written: a file and a 1-based line (0 = unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One mistake in a host config."""

    location: Location
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.key}: {self.message}" if self.key else \
            f"{self.location}: {self.message}"


class ConfigError(Exception):
    """A host config cannot be used; ``problems`` lists every reason, in file order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        return "\n".join([f"{head} in the host config:", *(f"  {p}" for p in self.problems)])
