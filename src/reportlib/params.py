"""Typed report parameters: a dataclass per family, checked before any kernel starts.

A family declares ``@dataclass(frozen=True) class StatementParams(ReportParams)`` with typed
fields; :meth:`ReportParams.parse` turns raw values (from ``-p NAME VALUE``, a YAML file or a
notebook) into that dataclass, collecting every problem — unknown name (with the closest
known one), missing value, wrong type — into one :class:`~reportlib.errors.ParameterError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

import yaml

from .errors import ParameterError
from .periods import IsoWeek, Month, Quarter

__all__ = ["ReportParams", "load_params_file", "parse_cli_pairs", "yaml_without_dates"]

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class _NoDatesSafeLoader(yaml.SafeLoader):
    """YAML loader that keeps ``2026-10-01`` a string; the schema decides what is a date."""


_NoDatesSafeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_without_dates(text: str) -> Any:
    """Parse YAML text safely, keeping dates as strings (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_NoDatesSafeLoader)


def load_params_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping of parameters; dates stay strings until the schema parses them."""
    path = Path(path)
    try:
        data = yaml_without_dates(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError("parameters file", [f"{path} does not exist"]) from None
    except yaml.YAMLError as exc:
        raise ParameterError("parameters file", [f"{path} is not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError("parameters file", [f"{path} must hold a mapping of NAME: VALUE"])
    return data


def parse_cli_pairs(pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs as a dict; values are parsed as YAML scalars (no dates)."""
    result: dict[str, Any] = {}
    for name, value in pairs or []:
        try:
            parsed = yaml_without_dates(value)
        except yaml.YAMLError:
            parsed = value
        # Keep the text when YAML would turn it into a mapping or list by accident.
        result[name] = parsed if isinstance(parsed, (str, int, float, bool)) or parsed is None else value
    return result


def _convert(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for option in options:
            try:
                return _convert(option, value)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is Literal:
        choices = typing.get_args(kind)
        for choice in choices:
            if str(value).strip().lower() == str(choice).lower():
                return choice
        raise ValueError(f"{value!r} is not one of: {', '.join(map(str, choices))}")
    if origin is tuple:
        (item,) = typing.get_args(kind)[:1]
        items = value if isinstance(value, (list, tuple)) else [v for v in str(value).split(",") if v.strip()]
        return tuple(_convert(item, v.strip() if isinstance(v, str) else v) for v in items)
    if value is None:
        raise ValueError("a value is required")
    if kind is str:
        if isinstance(value, (dict, list)):
            raise TypeError(f"{value!r} is not text")
        return str(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{value!r} is not true/false")
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        try:
            return int(str(value).strip()) if not isinstance(value, float) else int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
    if kind is Decimal:
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    if kind is date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if kind in (Month, Quarter, IsoWeek):
        return kind.parse(str(value))  # a period given as an object is held to the same range
    raise TypeError(f"unsupported parameter type {kind!r}")


def _render(value: Any) -> Any:
    """A parameter value as papermill injects it: JSON-friendly scalars and lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, tuple):
        return [_render(v) for v in value]
    return str(value)  # Decimal, date and periods round-trip through their text


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a parameter class (resolving them is most of a parse)."""
    return typing.get_type_hints(cls)


@dataclasses.dataclass(frozen=True)
class ReportParams:
    """Base of each family's parameter dataclass.

    Subclasses set ``family`` and declare typed fields; a field with no default is required.
    ``dataclasses.field(metadata={"help": "..."})`` documents a field for ``reportlib params``.
    """

    family: ClassVar[str] = "report"

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "ReportParams":
        """Check and convert ``raw``; one ParameterError lists every problem."""
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name in raw:
            if name not in fields:
                close = difflib.get_close_matches(name, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"unknown parameter {name!r}{hint}; known: {', '.join(fields)}")
        for name, fld in fields.items():
            if name not in raw:
                if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                    problems.append(f"parameter {name!r} is required ({_describe(hints[name])})")
                continue
            try:
                values[name] = _convert(hints[name], raw[name])
            except (TypeError, ValueError) as exc:
                problems.append(f"parameter {name!r}: {exc}")
        if not problems:
            try:
                instance = cls(**values)
                problems.extend(instance.check())
            except (TypeError, ValueError) as exc:
                problems.append(str(exc))
        if problems:
            raise ParameterError(cls.family, problems)
        return instance

    def check(self) -> list[str]:
        """Rules across fields; return problems as sentences (override in a family)."""
        return []

    def to_notebook(self) -> dict[str, Any]:
        """The parameters as papermill injects them into the notebook."""
        return {f.name: _render(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(name, type, default, help) for each parameter, for ``reportlib params``."""
        hints = typing.get_type_hints(cls)
        rows = []
        for fld in dataclasses.fields(cls):
            if not fld.init:
                continue
            default = "required" if fld.default is dataclasses.MISSING else repr(_render(fld.default))
            rows.append((fld.name, _describe(hints[fld.name]), default, fld.metadata.get("help", "")))
        return rows


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(kind)))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(kind) if a is not type(None)) + " (optional)"
    if origin is tuple:
        return f"comma-separated {_describe(typing.get_args(kind)[0])}s"
    names = {Month: "month YYYY-MM", Quarter: "quarter YYYYQn", IsoWeek: "ISO week YYYY-Www",
             date: "date YYYY-MM-DD", Decimal: "decimal", str: "text", int: "whole number", bool: "true/false"}
    return names.get(kind, getattr(kind, "__name__", str(kind)))
