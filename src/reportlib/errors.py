"""The errors reportlib raises, one hierarchy so callers can catch what they mean.

    ReportlibError                 everything below; the CLI prints it and exits 2
    ├── ConfigError                a setting, path or database URL that cannot work
    ├── ParameterError             report parameters that do not fit the family's schema
    ├── UnknownNameError           a registry lookup (family, engine, template) that failed
    ├── DataError                  data in the database breaks an invariant
    │   ├── InvariantError         a reconciliation rule failed (e.g. closing balance)
    │   └── UnknownEntityError     a partner, account, plan... that does not exist
    ├── LoadError                  a CSV folder that cannot be loaded (all problems at once)
    └── RunError                   a notebook run or batch that failed

Every error says in a full sentence what was wrong and how to fix it, and carries its context
(family, entity, file, row, column) as attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DataError",
    "InvariantError",
    "LoadError",
    "LoadProblem",
    "ParameterError",
    "ReportlibError",
    "RunError",
    "UnknownEntityError",
    "UnknownNameError",
]


class ReportlibError(Exception):
    """Base of every error reportlib raises on purpose."""


class ConfigError(ReportlibError):
    """A setting, path or database URL that cannot work."""


class UnknownNameError(ReportlibError, KeyError):
    """A registry lookup failed; the message lists what exists."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"Unknown {kind} {name!r}; known: {', '.join(self.known) or 'none'}.")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class ParameterError(ReportlibError, ValueError):
    """Report parameters that do not fit the family's schema; lists every problem."""

    def __init__(self, family: str, problems: list[str]):
        self.family, self.problems = family, list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Invalid parameters for {family} ({len(self.problems)} problem(s)):\n{lines}")


class DataError(ReportlibError):
    """Data in the database breaks an expectation of a report."""


class InvariantError(DataError):
    """A reconciliation rule failed; the message shows both sides."""


class UnknownEntityError(DataError, LookupError):
    """An entity (partner, account, rate plan...) named by the user does not exist."""

    def __init__(self, kind: str, key: str, hint: str = ""):
        self.kind, self.key = kind, key
        message = f"No {kind} {key!r} in the database."
        super().__init__(message + (f" {hint}" if hint else ""))


@dataclass(frozen=True)
class LoadProblem:
    """One problem in an input file: where it is and what is wrong."""

    file: str
    row: int | None  # 1-based data row (the header is row 0); None for file-level problems
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        value = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}{value}: {self.reason}"


class LoadError(ReportlibError):
    """A CSV folder that cannot be loaded; nothing was written. Lists every problem."""

    def __init__(self, domain: str, problems: list[LoadProblem], limit: int = 200):
        self.domain, self.problems = domain, list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:limit])
        more = len(self.problems) - limit
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"Cannot load {domain!r}: {len(self.problems)} problem(s); nothing was written.\n{shown}{tail}"
        )


class RunError(ReportlibError):
    """A notebook run or a batch that failed; names the family, entity and kept notebook."""

    def __init__(self, message: str, *, family: str | None = None, entity: str | None = None,
                 notebook: str | None = None):
        self.family, self.entity, self.notebook = family, entity, notebook
        super().__init__(message)
