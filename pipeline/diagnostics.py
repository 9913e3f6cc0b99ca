"""Located diagnostics: every message a user sees about their content is ``path:line: severity: message``."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    path: PurePath | str
    line: int | None  # 1-based; None when the problem concerns the whole file
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class Report:
    """Collects diagnostics; the one place they are created. Each diagnostic is kept once: two outputs
    that find the same problem (an invalid formula, rendered as SVG and as MathML) report it once."""

    def __init__(self) -> None:
        self._items: dict[Diagnostic, None] = {}  # a dict as an ordered set

    def error(self, path: PurePath | str, line: int | None, message: str) -> None:
        self.add(Diagnostic(path=path, line=line, severity=Severity.ERROR, message=message))

    def warning(self, path: PurePath | str, line: int | None, message: str) -> None:
        self.add(Diagnostic(path=path, line=line, severity=Severity.WARNING, message=message))

    def add(self, diagnostic: Diagnostic) -> None:
        self._items.setdefault(diagnostic, None)

    def extend(self, items: Iterable[Diagnostic]) -> None:
        for item in items:
            self.add(item)

    @property
    def items(self) -> tuple[Diagnostic, ...]:
        return tuple(self._items)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self._items if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self._items if not d.is_error)


class HandbookError(Exception):
    """A problem the user can fix; shown without a traceback. Subclasses set the exit code."""

    exit_code = 1


class ContentError(HandbookError):
    """The content has errors; ``diagnostics`` says where."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = sum(1 for d in self.diagnostics if d.is_error)
        if errors:
            super().__init__(f"{errors} error(s) in the content")
        else:  # --strict: warnings stop the build
            super().__init__(f"{len(self.diagnostics)} warning(s) in the content, treated as errors (--strict)")


class ToolError(HandbookError):
    """A tool the build needs is missing or failed (Node, MathJax, fonts, …)."""

    exit_code = 2
