"""Advertiser and publisher names: raw names as typed, resolved to canonical names.

Three layers, from certain to uncertain:

1. **Normalisation** (automatic): case, accents, spaces, punctuation, ``&``/``and``, and
   trailing legal (``Inc``, ``Ltd``, ``GmbH``...) and geo suffixes (``UK``, ``EMEA``,
   ``(US)``, ``Germany``...) are ignored. ``"hilton "``, ``"Hilton UK"`` and
   ``"HILTON, Inc."`` share the key ``hilton`` and merge.
2. **Aliases** (automatic, analyst-maintained): the ``leads_name_aliases`` table maps a raw
   name to a canonical name. An alias matches every raw name with the same normalised key.
   ``reportlib dashboard names export FILE`` / ``import FILE`` round-trip it as CSV.
3. **Fuzzy proposals** (never automatic): names whose keys are similar (rapidfuzz ratio,
   0–100) are written to a review CSV with their scores. Nothing merges until an analyst
   marks a row ``accept = yes`` and runs ``reportlib dashboard names accept FILE``, which turns the
   accepted rows into aliases.

A canonical name is the analyst's spelling when an alias names it, else the cleaned form
(spaces collapsed, suffixes dropped, case kept) of the group's most used raw name.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import data_fingerprint, init_db, query_frame, record_data_version
from ..errors import LoadError, LoadProblem
from ..render.csv import write_csv
from ..render.figures import rounded
from ..render.text import FORMULA_TRIGGERS
from .data import NAME_KINDS, leads, name_aliases

__all__ = [
    "DEFAULT_THRESHOLD",
    "NameResolution",
    "accept_proposals",
    "clean_name",
    "export_aliases",
    "import_aliases",
    "load_aliases",
    "name_key",
    "name_proposals",
    "raw_name_counts",
    "resolve_names",
    "write_proposals",
]

LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "llp", "ltd", "limited", "gmbh", "corp", "corporation", "co", "company", "plc",
    "sa", "ag", "bv", "nv", "srl", "pty", "oy", "ab", "sas", "spa", "kg", "sarl", "group"})
GEO_SUFFIXES = frozenset({
    "uk", "us", "usa", "emea", "apac", "apj", "latam", "eu", "europe", "na", "amer", "americas", "global",
    "international", "intl", "worldwide", "germany", "de", "france", "fr", "spain", "es", "italy", "it", "nl",
    "india", "canada", "ca", "australia", "au", "anz", "brazil", "br", "mexico", "mx", "japan", "jp", "nordics",
    "dach", "benelux", "asia", "mena", "north america", "south america", "united kingdom",
    "united states"})
SUFFIXES = LEGAL_SUFFIXES | GEO_SUFFIXES
DEFAULT_THRESHOLD = 85
MIN_FUZZY_LENGTH = 4  # "hp" vs "sap": keys this short are too ambiguous to propose
PROPOSAL_COLUMNS = ["kind", "raw_name", "canonical_name", "score", "raw_leads", "canonical_leads", "accept"]
ALIAS_COLUMNS = ["kind", "raw_name", "canonical_name"]
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}


def _ascii_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", " ", text).split()


def _strip_suffixes(words: list[str]) -> list[str]:
    """Drop trailing legal/geo suffix words (one- or two-word), keeping at least one word."""
    while len(words) > 1:
        if len(words) > 2 and " ".join(words[-2:]) in SUFFIXES:
            words = words[:-2]
        elif words[-1] in SUFFIXES:
            words = words[:-1]
        else:
            break
    return words


def name_key(raw: str) -> str:
    """The normalised key of a raw name: ``"Hilton UK "`` and ``"hilton, inc."`` give ``hilton``."""
    words = _strip_suffixes(_ascii_words(raw))
    return " ".join(words) if words else str(raw).strip().lower()


def clean_name(raw: str) -> str:
    """A raw name made presentable: spaces collapsed, trailing suffixes dropped, case kept."""
    tokens = str(raw).split()
    while len(tokens) > 1:
        last = _ascii_words(tokens[-1])
        pair = _ascii_words(" ".join(tokens[-2:])) if len(tokens) > 2 else []
        if not last or " ".join(last) in SUFFIXES:
            tokens = tokens[:-1]
        elif len(pair) == 2 and " ".join(pair) in SUFFIXES:
            tokens = tokens[:-2]
        else:
            break
    return " ".join(tokens).rstrip(" ,-–(/") or str(raw).strip()


@dataclass(frozen=True)
class NameResolution:
    """How the raw names of one kind resolve.

    ``mapping`` has one row per raw name: ``raw_name``, ``canonical_name``, ``rule`` (``as
    written``, ``normalised`` or ``alias``) and ``leads`` (volume, used to pick display names).
    """

    kind: str
    mapping: pd.DataFrame

    @property
    def raw_names(self) -> int:
        return len(self.mapping)

    @property
    def canonical_names(self) -> int:
        return int(self.mapping["canonical_name"].nunique())

    @property
    def merged(self) -> int:
        """Raw names folded into another raw name's canonical name."""
        return self.raw_names - self.canonical_names

    def merged_by(self, rule: str) -> int:
        return int((self.mapping["rule"] == rule).sum())

    def canonical(self) -> dict[str, str]:
        return dict(zip(self.mapping["raw_name"], self.mapping["canonical_name"]))

    def summary(self) -> dict[str, object]:
        return {"kind": self.kind, "raw_names": self.raw_names, "canonical_names": self.canonical_names,
                "merged": self.merged, "by_normalisation": self.merged_by("normalised"),
                "by_alias": self.merged_by("alias")}


def resolve_names(kind: str, raw_counts: pd.DataFrame, aliases: pd.DataFrame | None = None) -> NameResolution:
    """Resolve raw names (``name``, ``leads``) with normalisation and the aliases of ``kind``."""
    alias_rows = aliases[aliases["kind"] == kind] if aliases is not None and not aliases.empty else None
    alias_target: dict[str, str] = {}
    if alias_rows is not None:
        for raw, canonical in zip(alias_rows["raw_name"], alias_rows["canonical_name"]):
            alias_target[name_key(raw)] = canonical
    rows = []
    for raw, count in zip(raw_counts["name"], raw_counts["leads"]):
        key = name_key(raw)
        if key in alias_target:
            rows.append((raw, name_key(alias_target[key]), alias_target[key], int(count)))
        else:
            rows.append((raw, key, None, int(count)))
    frame = pd.DataFrame(rows, columns=["raw_name", "group", "alias", "leads"])
    display: dict[str, str] = {}
    if not frame.empty:
        for group, members in frame.groupby("group", sort=False):
            named = members["alias"].dropna()
            if not named.empty:
                display[group] = sorted(named.unique())[0]
            else:
                top = members.sort_values(["leads", "raw_name"], ascending=[False, True]).iloc[0]
                display[group] = clean_name(top["raw_name"])
    frame["canonical_name"] = frame["group"].map(display)
    frame["rule"] = [("alias" if isinstance(alias, str) and str(raw).strip() != canonical
                      else "as written" if str(raw).strip() == canonical else "normalised")
                     for raw, alias, canonical in zip(frame["raw_name"], frame["alias"], frame["canonical_name"])]
    mapping = frame[["raw_name", "canonical_name", "rule", "leads"]].sort_values(
        ["canonical_name", "leads"], ascending=[True, False], ignore_index=True)
    return NameResolution(kind, mapping)


def _check_kind(kind: str) -> None:
    if kind not in NAME_KINDS:
        raise ValueError(f"name kind must be one of {', '.join(NAME_KINDS)}, not {kind!r}")


def raw_name_counts(conn: Connection, kind: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Leads per raw ``kind`` name (``name``, ``leads``), optionally in ``[start, end)``."""
    _check_kind(kind)
    column = leads.c[kind]
    stmt = sa.select(column.label("name"), sa.func.count().label("leads")).group_by(column)
    if start is not None:
        stmt = stmt.where(leads.c.created_at >= datetime.combine(start, datetime.min.time()))
    if end is not None:
        stmt = stmt.where(leads.c.created_at < datetime.combine(end, datetime.min.time()))
    return query_frame(conn, stmt.order_by(column))


def load_aliases(conn: Connection) -> pd.DataFrame:
    """The analysts' alias table: ``kind``, ``raw_name``, ``canonical_name``, ``source``, ``score``."""
    stmt = sa.select(name_aliases.c.kind, name_aliases.c.raw_name, name_aliases.c.canonical_name,
                     name_aliases.c.source, name_aliases.c.score).order_by(name_aliases.c.kind,
                                                                           name_aliases.c.raw_name)
    return query_frame(conn, stmt)


def name_proposals(resolution: NameResolution, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Canonical names similar enough to be the same (rapidfuzz ratio >= ``threshold``), for review.

    Each smaller name is proposed once, to its best match among bigger names; the columns are
    those of the review CSV (``accept`` is left blank for the analyst).
    """
    from rapidfuzz import fuzz, process

    groups = (resolution.mapping.groupby("canonical_name", as_index=False)["leads"].sum()
              .sort_values(["leads", "canonical_name"], ascending=[False, True], ignore_index=True))
    keys = [name_key(n) for n in groups["canonical_name"]]
    rows = []
    for index in range(1, len(groups)):
        key = keys[index]
        if len(key) < MIN_FUZZY_LENGTH:
            continue
        bigger = {i: keys[i] for i in range(index) if len(keys[i]) >= MIN_FUZZY_LENGTH and keys[i] != key}
        best = process.extractOne(key, bigger, scorer=fuzz.ratio, score_cutoff=threshold)
        if best is None:
            continue
        _, score, target = best
        rows.append({"kind": resolution.kind, "raw_name": groups.at[index, "canonical_name"],
                     "canonical_name": groups.at[target, "canonical_name"],
                     "score": rounded(score, 1), "raw_leads": int(groups.at[index, "leads"]),
                     "canonical_leads": int(groups.at[target, "leads"]), "accept": ""})
    return pd.DataFrame(rows, columns=PROPOSAL_COLUMNS).sort_values(
        ["score", "raw_leads"], ascending=[False, False], ignore_index=True)


def write_proposals(conn: Connection, path: str | Path, kinds: Sequence[str] = NAME_KINDS,
                    threshold: float = DEFAULT_THRESHOLD) -> int:
    """Write the fuzzy proposals of every ``kind`` to a review CSV (atomically); returns the count."""
    aliases = load_aliases(conn)
    frames = []
    for kind in kinds:
        _check_kind(kind)
        frames.append(name_proposals(resolve_names(kind, raw_name_counts(conn, kind), aliases), threshold))
    proposals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PROPOSAL_COLUMNS)
    return write_csv(path, proposals.to_dict("records"), PROPOSAL_COLUMNS)


def _unneutralise(text: str) -> str:
    """Undo the quote that CSV export puts before a formula-like name, so the name round-trips."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def _read_rows(path: Path, required: Sequence[str]) -> tuple[list[tuple[int, dict[str, str]]], list[LoadProblem]]:
    problems: list[LoadProblem] = []
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        return rows, [LoadProblem(path.name, None, None, None, f"cannot be read: {exc.strerror}")]
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in required if c not in header]
        if missing:
            return rows, [LoadProblem(path.name, 1, c, None, "required column is missing from the header")
                          for c in missing]
        reader.fieldnames = header
        try:
            for record in reader:
                rows.append((reader.line_num, {k: _unneutralise((v or "").strip()) if k != "accept" else (v or "")
                                               for k, v in record.items() if k is not None}))
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(LoadProblem(path.name, reader.line_num, None, None, f"is not valid CSV: {exc}"))
    return rows, problems


def _alias_problems(name: str, line: int, row: dict[str, str]) -> list[LoadProblem]:
    problems = []
    if row["kind"] not in NAME_KINDS:
        problems.append(LoadProblem(name, line, "kind", row["kind"], f"not one of: {', '.join(NAME_KINDS)}"))
    for column in ("raw_name", "canonical_name"):
        if not row[column]:
            problems.append(LoadProblem(name, line, column, row[column], "a value is required"))
    return problems


def _write_aliases(engine: Engine, rows: list[dict], *, replace: bool, source: str) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        if replace:
            conn.execute(name_aliases.delete())
        for row in rows:
            conn.execute(name_aliases.delete().where(name_aliases.c.kind == row["kind"],
                                                     name_aliases.c.raw_name == row["raw_name"]))
        if rows:
            conn.execute(name_aliases.insert(), [dict(row, updated_at=now) for row in rows])
        # Aliases change every dashboard: a new fingerprint makes the runner re-render them.
        # It chains on the leads' current fingerprint, so the same aliases over other leads
        # never look like an earlier state.
        content = (data_fingerprint(conn, "leads") or "").encode() + load_aliases(conn).to_csv(index=False).encode()
        record_data_version(conn, "leads", source, hashlib.sha256(content).hexdigest())


def import_aliases(path: str | Path, url: str | None = None, *, replace: bool = False) -> int:
    """Add (or with ``replace``, replace all) aliases from a CSV of kind, raw_name, canonical_name."""
    path = Path(path)
    records, problems = _read_rows(path, ALIAS_COLUMNS)
    seen: dict[tuple[str, str], int] = {}
    rows = []
    for line, row in records:
        found = _alias_problems(path.name, line, row)
        key = (row["kind"], row["raw_name"])
        if key in seen:
            found.append(LoadProblem(path.name, line, "raw_name", row["raw_name"],
                                     f"duplicate alias for this {row['kind']}; first seen on row {seen[key]}"))
        seen.setdefault(key, line)
        problems.extend(found)
        if not found:
            rows.append({"kind": row["kind"], "raw_name": row["raw_name"], "canonical_name": row["canonical_name"],
                         "source": "analyst", "score": None})
    if problems:
        raise LoadError("name aliases", problems)
    _write_aliases(init_db(url), rows, replace=replace, source=f"names import {path.name}")
    return len(rows)


def accept_proposals(path: str | Path, url: str | None = None) -> tuple[int, int]:
    """Turn the review CSV's rows marked ``accept = yes`` into aliases; returns (accepted, left)."""
    path = Path(path)
    records, problems = _read_rows(path, PROPOSAL_COLUMNS)
    rows, left = [], 0
    for line, row in records:
        found = _alias_problems(path.name, line, row)
        decision = row["accept"].strip().lower()
        if decision not in _YES | _NO:
            found.append(LoadProblem(path.name, line, "accept", row["accept"], "write yes to merge, no or nothing to leave"))
        score = None
        try:
            score = Decimal(row["score"]) if row["score"] else None
        except ArithmeticError:
            found.append(LoadProblem(path.name, line, "score", row["score"], "not a number"))
        problems.extend(found)
        if found:
            continue
        if decision in _YES:
            rows.append({"kind": row["kind"], "raw_name": row["raw_name"], "canonical_name": row["canonical_name"],
                         "source": "accepted", "score": score})
        else:
            left += 1
    if problems:
        raise LoadError("name proposals", problems)
    _write_aliases(init_db(url), rows, replace=False, source=f"names accept {path.name}")
    return len(rows), left


def export_aliases(conn: Connection, path: str | Path) -> int:
    """Write the alias table as CSV (kind, raw_name, canonical_name, source, score); returns the count."""
    frame = load_aliases(conn)
    return write_csv(path, frame.to_dict("records"), ALIAS_COLUMNS + ["source", "score"])
