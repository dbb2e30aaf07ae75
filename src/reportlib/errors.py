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
    row: int | None  # spreadsheet row: the header is row 1; None for file-level problems
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
    """A CSV folder that cannot be loaded; nothing was written. Lists every problem.

    ``omitted`` counts the problems left out of ``problems`` per (file, column), when a file
    has more than the listing keeps of one column; ``total`` counts them all.
    """

    def __init__(self, domain: str, problems: list[LoadProblem], limit: int | None = 200,
                 omitted: dict[tuple[str, str | None], int] | None = None):
        self.domain, self.problems = domain, list(problems)
        self.omitted = dict(omitted or {})
        self.total = len(self.problems) + sum(self.omitted.values())
        listed = self.problems if limit is None else self.problems[:limit]
        lines = [f"  - {p}" for p in listed]
        if limit is not None and len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        for (file, column), count in self.omitted.items():
            where = file + (f", column {column!r}" if column is not None else "")
            lines.append(f"  ... and {count:,} more in {where}")
        shown = "\n".join(lines)
        super().__init__(f"Cannot load {domain!r}: {self.total:,} problem(s); nothing was written.\n{shown}")


class RunError(ReportlibError):
    """A notebook run or a batch that failed; names the family, entity and kept notebook."""

    def __init__(self, message: str, *, family: str | None = None, entity: str | None = None,
                 notebook: str | None = None):
        self.family, self.entity, self.notebook = family, entity, notebook
        super().__init__(message)
