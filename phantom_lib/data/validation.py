"""Validation of WhoClickedIt rows against the schema and the data card.

:func:`validate` checks a raw frame (every column as text) and returns it typed, or raises one
:class:`~phantom_lib.data.schema.WhoClickedValidationError` naming every problem (column, number
of rows, an example and the fix). :func:`card_counts` and :func:`compare_to_card` hold a frame
against the data card's published summary (:data:`phantom_lib.published.DATA_CARD`);
:class:`ValidationReport` summarises a clean frame.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from phantom_lib.data import events
from phantom_lib.data.schema import (
    ACTORS,
    COLUMNS,
    INTERACTION,
    PRICE_LOG,
    RECORD_TYPES,
    REQUIRED,
    SCHEMA,
    WhoClickedValidationError,
    is_admin,
)
from phantom_lib.published import DATA_CARD

_KIND = {c.name: c.kind for c in SCHEMA}

def _text(series: pd.Series) -> pd.Series:
    """A column as the string dtype with missing (NA or empty) values as NA."""
    text = series if isinstance(series.dtype, pd.StringDtype) else series.astype("str")
    return text.mask(text == "")


def _as_float(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column as float64 (missing = NaN) and a mask of values present but not numbers.

    Text goes through pyarrow's vectorised cast; if any value does not parse, pandas'
    element-wise ``to_numeric`` finds which.
    """
    if series.dtype.kind in "iufb":
        return series.astype(float), np.zeros(len(series), dtype=bool)
    text = _text(series)
    try:
        cast = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(cast.to_numpy(zero_copy_only=False), index=series.index), np.zeros(len(series), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        values = pd.to_numeric(text, errors="coerce").astype(float)
        return values, text.notna().to_numpy() & values.isna().to_numpy()


class _Checker:
    """Collects problems as ``column: n row(s) <what>; e.g. <example>. Fix: <fix>``."""

    def __init__(self, raw: pd.DataFrame, file_rows: bool) -> None:
        self.raw = raw
        self.file_rows = file_rows
        self.problems: list[str] = []

    def row(self, position: int) -> str:
        return f"row {position} (line {position + 2})" if self.file_rows else f"row {position}"

    def flag(self, bad: np.ndarray, column: str, what: str, fix: str, show: tuple[str, ...] = ()) -> None:
        """Record a problem for the rows where ``bad`` is True (no-op if none); the example
        shows ``column`` (or the columns in ``show``) of the first bad row."""
        count = int(bad.sum())
        if count == 0:
            return
        first = int(np.flatnonzero(bad)[0])
        shown = []
        for name in show or (column,):
            value = self.raw[name].iloc[first]
            shown.append(f"{name}=" + ("empty" if pd.isna(value) or str(value) == "" else repr(str(value))))
        self.problems.append(
            f"{column}: {count} row(s) {what}; e.g. {self.row(first)} has {', '.join(shown)}. Fix: {fix}"
        )


def _structural_problems(raw: pd.DataFrame) -> list[str]:
    """Problems that stop validation: one-column files, no rows, missing required columns."""
    problems: list[str] = []
    if raw.shape[1] == 1:
        header = str(raw.columns[0])
        found = [name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")) if sep in header]
        guess = f"the header contains {found[0]}, so the file looks {found[0]}-separated" if found else (
            "no delimiter was recognised"
        )
        problems.append(
            f"the file has a single column ({header[:60]!r}...): {guess}. whoclicked.csv is comma-separated; "
            "re-save it with ',' as the delimiter"
        )
        return problems
    if len(raw) == 0:
        problems.append("the file has a header but no data rows")
    missing = [c for c in REQUIRED if c not in raw.columns]
    for name in missing:
        close = difflib.get_close_matches(name, [str(c) for c in raw.columns], n=1, cutoff=0.6)
        hint = f" (the file has {close[0]!r}: rename it to {name!r})" if close else ""
        problems.append(f"{name}: required column is missing{hint}")
    return problems


def _numeric(check: _Checker, name: str) -> pd.Series:
    """A column as float64; flags values that are present but not numbers."""
    values, bad = _as_float(check.raw[name])
    check.flag(bad, name, "are not numbers", f"write {name} as a plain number (e.g. 12 or 3.5) or leave it empty")
    return values


def validate(raw: pd.DataFrame, origin: str = "the data", file_rows: bool = True,
             allow_duplicates: bool = False) -> pd.DataFrame:
    """Check ``raw`` (as read, any dtypes) against the schema and return the typed frame.

    Typed frame: the known columns in schema order, then any extra columns; text columns as
    the string dtype (missing = NA), ``is_agent`` int64, ``ts`` datetime64[ns, UTC], ``price``
    and the metadata numbers float64, Kafka integers Int64, booleans ``boolean``.

    Raises :class:`WhoClickedValidationError` listing every problem (column, row count, an
    example with its row and file line, and the fix). Rows identical in every column to an
    earlier row are a problem unless ``allow_duplicates`` (a file exported twice, or
    concatenated with itself, would otherwise pass with every count inflated).
    """
    problems = _structural_problems(raw)
    if problems:
        raise WhoClickedValidationError(problems, origin)
    check = _Checker(raw.reset_index(drop=True), file_rows)
    raw = check.raw

    actor = _text(raw["actor_type"])
    record = _text(raw["record_type"])
    check.flag(~actor.isin(ACTORS).to_numpy(), "actor_type", "are not 'human' or 'agent'",
               "use exactly 'human' or 'agent' (lower case)")
    is_agent, _ = _as_float(raw["is_agent"])
    valid_flag = is_agent.isin([0, 1]).to_numpy()
    check.flag(~valid_flag, "is_agent", "are not 0 or 1", "write 1 for agent rows and 0 for human rows")
    check.flag(~record.isin(RECORD_TYPES).to_numpy(), "record_type", "are not 'interaction' or 'price_log'",
               "use exactly 'interaction' or 'price_log'")
    contradiction = actor.isin(ACTORS).to_numpy() & valid_flag & (
        (actor == "agent").to_numpy() != (is_agent == 1).to_numpy()
    )
    check.flag(contradiction, "is_agent", "contradict actor_type",
               "is_agent must be 1 exactly when actor_type is 'agent'", show=("actor_type", "is_agent"))

    ts_text = _text(raw["ts"]) if raw["ts"].dtype.kind != "M" else raw["ts"]
    ts = pd.to_datetime(ts_text, utc=True, errors="coerce", format="ISO8601")
    check.flag(ts.isna().to_numpy(), "ts", "are missing or not ISO 8601 timestamps",
               "write times like 2025-12-05T09:43:31.301Z (UTC)")

    is_interaction = (record == INTERACTION).to_numpy()
    is_price = (record == PRICE_LOG).to_numpy()
    event = _text(raw["eventName"])
    check.flag(is_interaction & event.isna().to_numpy(), "eventName", "are interactions without an eventName",
               "every interaction row needs its event name (e.g. page_view)", show=("record_type", "eventName"))
    price = _numeric(check, "price")
    bad_price = is_price & ~(price > 0).to_numpy()
    check.flag(bad_price, "price", "are price logs without a price > 0",
               "every price_log row needs a positive price", show=("record_type", "price"))

    for key in ("sessionId", "experimentId"):
        ids = _text(raw[key])
        check.flag(ids.isna().to_numpy(), key, "are missing", f"every row needs its {key}")
        labelled = pd.DataFrame({"id": ids, "actor": actor.where(actor.isin(ACTORS))}).dropna()
        mixed = labelled.groupby("id")["actor"].nunique()
        mixed_ids = mixed.index[mixed > 1]
        check.flag(ids.isin(mixed_ids).to_numpy(), key, "belong to ids shared by human and agent rows",
                   f"a {key} must belong to one actor type; check the labels of these rows")

    if not allow_duplicates:
        _flag_duplicates(check)

    typed: dict[str, pd.Series] = {}
    for name in [c for c in COLUMNS if c in raw.columns] + [c for c in raw.columns if c not in _KIND]:
        kind = _KIND.get(name, "text")
        if name == "is_agent":
            typed[name] = is_agent.fillna(-1).astype("int64")
        elif name == "ts":
            typed[name] = ts.astype("datetime64[ns, UTC]")
        elif name == "price":
            typed[name] = price
        elif kind == "float":
            typed[name] = _numeric(check, name)
        elif kind == "int":
            values = _numeric(check, name)
            fractional = (values.notna() & (values % 1 != 0)).to_numpy()
            check.flag(fractional, name, "are not whole numbers", f"{name} holds integers")
            typed[name] = values.where(~fractional).round().astype("Int64")
        elif kind == "bool":
            text = _text(raw[name]).str.lower()
            check.flag((text.notna() & ~text.isin(("true", "false", "1", "0"))).to_numpy(), name,
                       "are not true/false", f"write {name} as True or False")
            flags = pd.Series(text.isin(("true", "1")).to_numpy(), dtype="boolean")
            typed[name] = flags.mask(text.isna().to_numpy())
        else:
            typed[name] = _text(raw[name])
    if check.problems:
        raise WhoClickedValidationError(check.problems, origin)
    return pd.DataFrame(typed)


_DUPLICATE_KEYS = ("ts", "sessionId", "eventName", "productId", "price")
"""Required columns that nearly identify a row: the full-row comparison runs only where they repeat."""


def _flag_duplicates(check: _Checker) -> None:
    """Flag rows identical in every column to an earlier row, naming the first copy's original."""
    # Rows equal in every column are equal in these few: compare all columns only where these repeat.
    candidates = check.raw.duplicated(subset=list(_DUPLICATE_KEYS), keep=False).to_numpy()
    repeated = np.zeros(len(check.raw), dtype=bool)
    if candidates.any():
        repeated[candidates] = check.raw[candidates].duplicated(keep="first").to_numpy()
    count = int(repeated.sum())
    if count == 0:
        return
    row_hash = pd.util.hash_pandas_object(check.raw, index=False).to_numpy()
    first = int(np.flatnonzero(repeated)[0])
    original = int(np.flatnonzero(row_hash == row_hash[first])[0])
    check.problems.append(
        f"rows: {count} row(s) repeat an earlier row in every column; e.g. {check.row(first)} repeats "
        f"{check.row(original)}. Fix: remove the copies (pandas: frame.drop_duplicates()), or, if they are "
        "genuine repeated events, allow them: load(..., allow_duplicates=True) or "
        "`phantom data check --allow-duplicates`"
    )


_ZONE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
"""A time stamp that ends in a zone: ``Z`` or an offset like ``+01:00``."""

_FORMULA_START = ("=", "+", "-", "@")
"""First characters that make spreadsheet programs run a cell as a formula (CSV injection)."""


def _earlier_than_before(check: _Checker) -> np.ndarray:
    """Rows whose ``ts`` is earlier than the previous row of the same session and record type, in
    file order (a session's interaction log and its price log are each written as they happen)."""
    raw = check.raw
    if not {"ts", "sessionId", "record_type"} <= set(raw.columns):
        return np.zeros(len(raw), dtype=bool)
    ts_text = _text(raw["ts"]) if raw["ts"].dtype.kind != "M" else raw["ts"]
    ts = pd.to_datetime(ts_text, utc=True, errors="coerce", format="ISO8601")
    previous = ts.groupby([_text(raw["sessionId"]), _text(raw["record_type"])]).shift()
    return (ts < previous).fillna(False).to_numpy(dtype=bool)


def data_notes(raw: pd.DataFrame, file_rows: bool = True) -> list[str]:
    """What validation keeps but reports: time stamps without a zone (read as UTC), time stamps
    out of order within a session (earlier than the session's previous row of the same record
    type) and text cells a spreadsheet would run as formulas (first character ``=``, ``+``, ``-``
    or ``@``, and not a number). One line per finding with a count, an example row and what to do."""
    check = _Checker(raw.reset_index(drop=True), file_rows)
    if "ts" in check.raw and check.raw["ts"].dtype.kind != "M":
        ts = _text(check.raw["ts"])
        zoneless = (ts.notna() & ~ts.str.contains(_ZONE, regex=True)).fillna(False).to_numpy(dtype=bool)
        check.flag(zoneless, "ts", "have no time zone and were read as UTC",
                   "append Z if they are UTC, or write their offset (e.g. +01:00)")
    check.flag(_earlier_than_before(check), "ts",
               "are earlier than the previous row of their session (same record_type): out of order",
               "kept as read (analyses sort by ts); check the export's clock or row order for these sessions",
               show=("sessionId", "ts"))
    for name in check.raw.columns:
        if _KIND.get(name, "text") not in ("text", "label") or check.raw[name].dtype.kind in "iufbM":
            continue
        text = check.raw[name].astype("str") if check.raw[name].dtype == object else check.raw[name]
        starts = np.array(text.str[:1].isin(_FORMULA_START), dtype=bool)
        if starts.any():
            starts[starts] = pd.to_numeric(text[starts], errors="coerce").isna().to_numpy()
        check.flag(starts, name, "start with =, +, - or @ (a spreadsheet opening an export would run them as formulas)",
                   "kept as read; before opening an export in a spreadsheet, prefix such cells with a single quote")
    return check.problems


# --------------------------------------------------------------------------- report


def card_counts(frame: pd.DataFrame) -> dict[str, Any]:
    """The data card's summary quantities (keys of :data:`phantom_lib.published.DATA_CARD`) computed from a typed
    frame."""
    counts: dict[str, Any] = {
        "rows": len(frame),
        "columns": frame.shape[1],
        "ts_min": frame["ts"].min().strftime("%Y-%m-%dT%H:%M:%SZ") if len(frame) else "",
        "ts_max": frame["ts"].max().strftime("%Y-%m-%dT%H:%M:%SZ") if len(frame) else "",
    }
    for value, n in frame["record_type"].value_counts().items():
        counts[f"record_type/{value}"] = int(n)
    for value, n in frame["actor_type"].value_counts().items():
        counts[f"actor/{value}"] = int(n)
    for (a, r), n in frame.groupby(["actor_type", "record_type"]).size().items():
        counts[f"{a}/{r}"] = int(n)
    for key, label in (("sessionId", "sessions"), ("experimentId", "experiments")):
        for a, n in frame.groupby("actor_type")[key].nunique().items():
            counts[f"{label}/{a}"] = int(n)
    for value, n in frame["storeMode"].value_counts().items():
        counts[f"store/{value}"] = int(n)
    names = frame.loc[frame["record_type"] == INTERACTION, "eventName"]
    for value, n in names.value_counts().items():
        counts[f"event/{value}"] = int(n)
    return counts


def compare_to_card(frame: pd.DataFrame, published: Mapping[str, Any] = DATA_CARD) -> pd.DataFrame:
    """Published vs loaded quantities, one row each: ``quantity, published, loaded, match``.

    Quantities the loaded data has but the card does not list (e.g. an extra event name)
    appear with an empty ``published`` value.
    """
    loaded = card_counts(frame)
    keys = list(published) + [k for k in loaded if k not in published]
    rows = []
    for key in keys:
        pub, got = published.get(key), loaded.get(key, 0 if key not in ("ts_min", "ts_max") else "")
        rows.append((key, "" if pub is None else str(pub), str(got), pub is not None and str(pub) == str(got)))
    return pd.DataFrame(rows, columns=["quantity", "published", "loaded", "match"])


@dataclass(frozen=True)
class ValidationReport:
    """What validation found in a file that passed (counts are of rows as read).

    Attributes:
        rows, columns: shape as read.
        missing_optional: schema columns absent from the file (Kafka/metadata; allowed).
        extra_columns: columns the schema does not know (kept as text).
        counts: :func:`card_counts` of the file.
        unknown_events: interaction names outside the method's action table -> row count
            (kept; their category is guessed by prefix, see ``events.category_of``).
        guessed_categories: unknown name -> the category it was given.
        admin_events: interaction rows on ``/admin/`` pages (dropped from trajectories).
        time_range: first and last ``ts`` (UTC).
        notes: what was kept but is worth knowing, one line each (:func:`data_notes`).
    """

    rows: int
    columns: int
    missing_optional: tuple[str, ...]
    extra_columns: tuple[str, ...]
    counts: dict[str, Any]
    unknown_events: dict[str, int]
    guessed_categories: dict[str, str]
    admin_events: int
    time_range: tuple[pd.Timestamp, pd.Timestamp]
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The report as a two-column table (item, value) for notebooks."""
        c = self.counts
        items = [
            ("rows", self.rows),
            ("columns", self.columns),
            ("problems found", 0),
            ("first event (UTC)", self.time_range[0].isoformat()),
            ("last event (UTC)", self.time_range[1].isoformat()),
            ("interaction rows", c.get("record_type/interaction", 0)),
            ("price-log rows", c.get("record_type/price_log", 0)),
            ("interactions on /admin/ pages (dropped from trajectories)", self.admin_events),
            ("unknown event names (kept)", ", ".join(f"{k} ({v})" for k, v in self.unknown_events.items()) or "none"),
            ("schema columns absent (optional)", ", ".join(self.missing_optional) or "none"),
            ("extra columns (kept as text)", ", ".join(self.extra_columns) or "none"),
            ("notes", " | ".join(self.notes) or "none"),
        ]
        return pd.DataFrame(items, columns=["item", "value"]).astype({"value": "str"})


def report_of(frame: pd.DataFrame, notes: Sequence[str] = ()) -> ValidationReport:
    """The :class:`ValidationReport` of a typed frame returned by :func:`validate`, with the
    ``notes`` of :func:`data_notes` on the raw rows."""
    names = frame.loc[frame["record_type"] == INTERACTION, "eventName"].value_counts()
    unknown = {str(k): int(v) for k, v in names.items() if k not in events.KNOWN_ACTIONS}
    guessed = events.categorise(unknown).guessed
    return ValidationReport(
        rows=len(frame),
        columns=frame.shape[1],
        missing_optional=tuple(c for c in COLUMNS if c not in frame.columns),
        extra_columns=tuple(c for c in frame.columns if c not in _KIND),
        counts=card_counts(frame),
        unknown_events=unknown,
        guessed_categories=guessed,
        admin_events=int(((frame["record_type"] == INTERACTION).to_numpy() & is_admin(frame)).sum()),
        time_range=(frame["ts"].min(), frame["ts"].max()),
        notes=tuple(notes),
    )
