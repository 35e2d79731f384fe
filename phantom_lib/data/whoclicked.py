"""WhoClickedIt: schema, loading, validation, trajectories and price logs (shared/DATA.md).

The study's labelled click data is one flat file ``whoclicked.csv`` (42 columns): interaction
events and price-log rows of humans and AI shopping agents. This module

* resolves where the data comes from (:func:`resolve_source`): an explicit path, the
  environment variable :data:`ENV_VAR`, the Hugging Face hub (``"hub"``), or the project's
  synthetic stand-in (``"standin"``, the default);
* reads and validates it (:func:`load`): every problem is collected into one
  :class:`WhoClickedValidationError` that names the column, the number of rows, an example
  and the fix; a clean file gives a typed frame and a :class:`ValidationReport`;
* derives the tables later chapters consume: :func:`trajectories` (the event table of
  every experiment or session, the contract in the project brief) and :func:`price_logs`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from phantom_lib.data import events

# --------------------------------------------------------------------------- schema

ENV_VAR = "PHANTOM_WHOCLICKED"
"""Environment variable naming the data source (a path, ``standin`` or ``hub``)."""

HUB_ID = "velocitatem/whoclickedit"
"""The published data set on the Hugging Face hub (one file, ``whoclicked.csv``)."""

HUB_PROBE_TIMEOUT = 2.0
"""Seconds allowed for the reachability probe before ``datasets`` is asked for the hub."""

STANDIN_PATH = Path(__file__).resolve().parents[2] / "data" / "whoclicked_standin.csv.gz"
"""The shipped synthetic stand-in (regenerate with ``phantom data standin``)."""

ACTORS = ("human", "agent")
RECORD_TYPES = ("interaction", "price_log")
INTERACTION, PRICE_LOG = RECORD_TYPES
ADMIN_MARKER = "/admin/"
"""Pages containing this path are operator pages, not shopper behaviour: dropped from trajectories."""


@dataclass(frozen=True)
class Column:
    """One column of ``whoclicked.csv``.

    ``kind`` is one of ``label`` (closed set of values), ``text``, ``int``, ``float``,
    ``bool``, ``datetime``. ``required`` columns must be present; the others (Kafka
    provenance and flattened metadata) are checked when present and reported when absent.
    """

    name: str
    kind: str
    group: str
    required: bool
    description: str


def _core(name: str, kind: str, description: str) -> Column:
    return Column(name, kind, "core", True, description)


def _kafka(name: str, kind: str, description: str) -> Column:
    return Column(name, kind, "kafka", False, description)


def _meta(name: str, kind: str, description: str) -> Column:
    return Column(name, kind, "metadata", False, description)


SCHEMA: tuple[Column, ...] = (
    _core("actor_type", "label", "who produced the row: human or agent"),
    _core("is_agent", "label", "1 for agent rows, 0 for human rows (must agree with actor_type)"),
    _core("record_type", "label", "interaction (a UI event) or price_log (a price quote shown)"),
    _core("sessionId", "text", "browser session id"),
    _core("experimentId", "text", "one assigned task run: the study's analysis unit"),
    _core("storeMode", "text", "storefront: hotel, airline or shop"),
    _core("ts", "datetime", "event time, ISO 8601, UTC"),
    _core("eventName", "text", "interaction name, e.g. page_view (empty for price logs)"),
    _core("page", "text", "page path, e.g. /hotel/products/<id>"),
    _core("productId", "text", "product id (UUID or short id such as htl-0); empty if none"),
    _core("price", "float", "quoted price of a price-log row (currency units, > 0)"),
    _core("userAgent", "text", "browser user-agent string"),
    _kafka("kafka_partition_id", "int", "Kafka partition of the message"),
    _kafka("kafka_offset", "int", "offset of the message within its partition"),
    _kafka("kafka_timestamp_ms", "int", "broker timestamp (ms since the Unix epoch)"),
    _kafka("kafka_compression", "text", "message compression codec"),
    _kafka("kafka_is_transactional", "bool", "whether the message was written in a transaction"),
    _kafka("kafka_headers", "text", "message headers (JSON list)"),
    _kafka("kafka_key_encoding", "text", "encoding of the message key"),
    _kafka("kafka_key_isPayloadNull", "bool", "whether the key was null"),
    _kafka("kafka_key_payload", "text", "the message key"),
    _kafka("kafka_key_schemaId", "int", "schema-registry id of the key (empty if none)"),
    _kafka("kafka_key_size", "int", "key size (bytes)"),
    _kafka("kafka_key_troubleshootReport", "text", "decoder diagnostics for the key"),
    _kafka("kafka_value_encoding", "text", "encoding of the message value"),
    _kafka("kafka_value_isPayloadNull", "bool", "whether the value was null"),
    _kafka("kafka_value_schemaId", "int", "schema-registry id of the value (empty if none)"),
    _kafka("kafka_value_size", "int", "value size (bytes)"),
    _kafka("kafka_value_troubleshootReport", "text", "decoder diagnostics for the value"),
    _meta("metadata_cabinClass", "text", "airline: cabin class of the viewed fare"),
    _meta("metadata_dateIndex", "float", "airline: index of the chosen travel date"),
    _meta("metadata_dwellTime", "float", "hover events: time over the element (ms)"),
    _meta("metadata_elementText", "text", "hover events: text of the element"),
    _meta("metadata_fareRule", "text", "airline: fare rule of the viewed fare"),
    _meta("metadata_flightType", "text", "airline: one way or return"),
    _meta("metadata_itemCount", "float", "cart events: items in the cart"),
    _meta("metadata_nights", "float", "hotel: nights of the stay"),
    _meta("metadata_price", "float", "price shown with the event (currency units)"),
    _meta("metadata_referrer", "text", "page views: the referring URL"),
    _meta("metadata_roomType", "text", "hotel: room type of the viewed offer"),
    _meta("metadata_total", "float", "checkout: cart total (currency units)"),
    _meta("metadata_type", "text", "page type or section the event refers to"),
)
"""The 42 columns, in file order. Core names and groups follow the data card; the names of
the Kafka envelope fields beyond those the card lists are this project's reconstruction."""

COLUMNS: tuple[str, ...] = tuple(c.name for c in SCHEMA)
REQUIRED: tuple[str, ...] = tuple(c.name for c in SCHEMA if c.required)
_KIND = {c.name: c.kind for c in SCHEMA}

PUBLISHED: dict[str, Any] = {
    "rows": 3838,
    "columns": 42,
    "ts_min": "2025-12-05T09:43:31Z",
    "ts_max": "2026-02-28T19:32:06Z",
    "record_type/interaction": 507,
    "record_type/price_log": 3331,
    "actor/agent": 3076,
    "actor/human": 762,
    "agent/interaction": 197,
    "agent/price_log": 2879,
    "human/interaction": 310,
    "human/price_log": 452,
    "sessions/agent": 7,
    "sessions/human": 25,
    "experiments/agent": 16,
    "experiments/human": 13,
    "store/hotel": 3592,
    "store/airline": 196,
    "store/shop": 50,
    "event/page_view": 236,
    "event/learn_more_about_item": 88,
    "event/view_item_page": 85,
    "event/add_item_to_cart": 46,
    "event/hover_over_title": 23,
    "event/checkout_start": 19,
    "event/hover_over_paragraph": 6,
    "event/remove_item": 4,
}
"""The data card's published summary of ``whoclicked.csv`` (timestamps to the second, UTC)."""


def schema_frame() -> pd.DataFrame:
    """The schema as a table: name, group, kind, required, description."""
    return pd.DataFrame(
        [(c.name, c.group, c.kind, c.required, c.description) for c in SCHEMA],
        columns=["column", "group", "kind", "required", "description"],
    )


# --------------------------------------------------------------------------- errors


class WhoClickedValidationError(ValueError):
    """The data does not meet the schema. ``problems`` lists every issue found, one line each."""

    def __init__(self, problems: list[str], origin: str) -> None:
        self.problems = list(problems)
        self.origin = origin
        lines = "\n  - ".join(self.problems)
        super().__init__(f"{origin} is not a valid whoclicked.csv ({len(self.problems)} problem(s)):\n  - {lines}")


class WhoClickedSourceError(RuntimeError):
    """The requested source cannot be read (missing file, unreachable hub)."""


_HOW_TO_PASS = (
    f"download whoclicked.csv from https://huggingface.co/datasets/{HUB_ID} on a machine with "
    "access, then pass the local copy: load_whoclicked('/path/to/whoclicked.csv'), or "
    f"`export {ENV_VAR}=/path/to/whoclicked.csv`, or for a notebook "
    "`phantom run 01 -p data_source /path/to/whoclicked.csv`"
)


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Provenance:
    """Where the loaded data came from, for notebook banners and result provenance.

    Attributes:
        kind: ``"standin"`` (the shipped synthetic file), ``"path"`` (a local file) or ``"hub"``.
        location: the file path, or ``hf://datasets/<id>`` for the hub.
        chosen_by: ``"argument"``, ``"PHANTOM_WHOCLICKED"`` or ``"default"``.
        sha256: hex digest of the file's bytes (for the hub: of the loaded table's row hashes).
        rows: rows read (before any filtering).
    """

    kind: str
    location: str
    chosen_by: str
    sha256: str
    rows: int

    @property
    def synthetic(self) -> bool:
        """True for the project's synthetic stand-in."""
        return self.kind == "standin"

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (for JSON provenance files)."""
        return {
            "kind": self.kind,
            "location": self.location,
            "chosen_by": self.chosen_by,
            "sha256": self.sha256,
            "rows": self.rows,
            "synthetic": self.synthetic,
        }

    def banner(self) -> str:
        """A Markdown banner stating the source; the stand-in is labelled synthetic."""
        where = f"`{Path(self.location).name}`" if self.kind != "hub" else f"`{self.location}`"
        ident = f"{self.rows:,} rows, sha256 `{self.sha256[:12]}`, chosen by {self.chosen_by}"
        if self.synthetic:
            return (
                f"> **SYNTHETIC STAND-IN DATA** ({where}; {ident}). These rows were generated by "
                "`phantom_lib.data.standin` to match the published schema and counts of WhoClickedIt. "
                "Results computed from them are not the study's findings. Pass the real "
                "`whoclicked.csv` as `data_source` to reproduce the study."
            )
        return f"> **Real WhoClickedIt data** ({where}; {ident})."


def resolve_source(source: str | os.PathLike[str] | None = None) -> tuple[str, str, str]:
    """Decide where to read from: explicit ``source`` > :data:`ENV_VAR` > the stand-in.

    ``source`` (or the variable's value) is ``"standin"``, ``"hub"`` or a path.
    Returns ``(kind, location, chosen_by)``; raises :class:`WhoClickedSourceError` for a
    path that does not exist.
    """
    chosen_by = "argument"
    if source is None or str(source) == "":
        source = os.environ.get(ENV_VAR, "").strip() or None
        chosen_by = ENV_VAR if source else "default"
    if source is None or str(source) == "standin":
        return "standin", str(STANDIN_PATH), chosen_by
    if str(source) == "hub":
        return "hub", f"hf://datasets/{HUB_ID}", chosen_by
    path = Path(source).expanduser()
    if not path.is_file():
        raise WhoClickedSourceError(
            f"data source {str(source)!r} (chosen by {chosen_by}) is not a file. Give the path of "
            "whoclicked.csv (plain or .gz), or 'standin' for the synthetic stand-in, or 'hub'."
        )
    return "path", str(path.resolve()), chosen_by


def _truthy(value: str) -> bool:
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _reachable(host: str, port: int, timeout: float) -> bool:
    """TCP connect to ``host:port``, bounded by ``timeout`` seconds including name lookup."""
    outcome: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def hub_unavailable_reason(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the hub cannot be used right now (offline flags, no route), or ``None`` if reachable."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if _truthy(os.environ.get(var, "")):
            return f"{var}={os.environ[var]} is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    if not _reachable(host, port, timeout):
        return f"{host}:{port} did not answer within {timeout:g} s"
    return None


def _read_hub() -> pd.DataFrame:
    reason = hub_unavailable_reason()
    if reason is not None:
        raise WhoClickedSourceError(f"the Hugging Face hub cannot be used ({reason}): {_HOW_TO_PASS}.")
    try:
        from datasets import load_dataset

        dataset = load_dataset(HUB_ID)
    except Exception as err:  # datasets raises many types (ConnectionError, OfflineModeIsEnabled, ...)
        raise WhoClickedSourceError(
            f"loading {HUB_ID} from the hub failed ({type(err).__name__}: {err}): {_HOW_TO_PASS}."
        ) from err
    split = dataset["train"] if "train" in dataset else next(iter(dataset.values()))
    return split.to_pandas()


def _read_file(path: Path, origin: str) -> pd.DataFrame:
    """Every column as text (missing = NA). pyarrow's parser first (fast, multithreaded);
    pandas' C parser when pyarrow refuses the file (e.g. line breaks inside quoted values)."""
    empty = WhoClickedValidationError(["the file is empty: expected a header row and data rows"], origin)
    if path.stat().st_size == 0:
        raise empty
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""], "encoding": "utf-8"}
    try:
        return pd.read_csv(path, engine="pyarrow", **options)
    except (pa.ArrowInvalid, ValueError):
        pass
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise empty from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise WhoClickedValidationError(
            [f"the file is not a readable UTF-8, comma-separated CSV ({type(err).__name__}: {err})"], origin
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- validation


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


def validate(raw: pd.DataFrame, origin: str = "the data", file_rows: bool = True) -> pd.DataFrame:
    """Check ``raw`` (as read, any dtypes) against the schema and return the typed frame.

    Typed frame: the known columns in schema order, then any extra columns; text columns as
    the string dtype (missing = NA), ``is_agent`` int64, ``ts`` datetime64[ns, UTC], ``price``
    and the metadata numbers float64, Kafka integers Int64, booleans ``boolean``.

    Raises :class:`WhoClickedValidationError` listing every problem (column, row count, an
    example with its row and file line, and the fix).
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


# --------------------------------------------------------------------------- report


def _is_admin(frame: pd.DataFrame) -> np.ndarray:
    return frame["page"].fillna("").str.contains(ADMIN_MARKER, regex=False).to_numpy()


def card_counts(frame: pd.DataFrame) -> dict[str, Any]:
    """The data card's summary quantities (keys of :data:`PUBLISHED`) computed from a typed frame."""
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


def compare_to_card(frame: pd.DataFrame, published: Mapping[str, Any] = PUBLISHED) -> pd.DataFrame:
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
        ]
        return pd.DataFrame(items, columns=["item", "value"]).astype({"value": "str"})


def report_of(frame: pd.DataFrame) -> ValidationReport:
    """The :class:`ValidationReport` of a typed frame returned by :func:`validate`."""
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
        admin_events=int(((frame["record_type"] == INTERACTION).to_numpy() & _is_admin(frame)).sum()),
        time_range=(frame["ts"].min(), frame["ts"].max()),
    )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class WhoClicked:
    """A loaded, validated data set: the typed ``frame``, its ``report`` and ``provenance``."""

    frame: pd.DataFrame = field(repr=False)
    report: ValidationReport
    provenance: Provenance


def load(source: str | os.PathLike[str] | None = None) -> WhoClicked:
    """Read and validate WhoClickedIt from ``source`` (see :func:`resolve_source`).

    Raises :class:`WhoClickedSourceError` when the source cannot be read (no such file; the
    hub requested while offline: the message says how to pass a local copy) and
    :class:`WhoClickedValidationError` when the data breaks the schema.
    """
    kind, location, chosen_by = resolve_source(source)
    if kind == "hub":
        raw = _read_hub()
        digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=False).to_numpy().tobytes()).hexdigest()
        frame = validate(raw, origin=location, file_rows=False)
    else:
        path = Path(location)
        if kind == "standin" and not path.is_file():
            raise WhoClickedSourceError(
                f"the stand-in {path} is missing: regenerate it with `phantom data standin --seed 0 -o {path}`"
            )
        raw = _read_file(path, origin=str(path))
        digest = _sha256(path)
        frame = validate(raw, origin=str(path))
    provenance = Provenance(kind, location, chosen_by, digest, len(raw))
    return WhoClicked(frame, report_of(frame), provenance)


def load_whoclicked(source: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The validated, typed WhoClickedIt frame (all rows as read); see :func:`load`."""
    return load(source).frame


def provenance(source: str | os.PathLike[str] | None = None) -> Provenance:
    """Source kind, location, sha256 and row count of ``source`` (reads and validates it)."""
    return load(source).provenance


# --------------------------------------------------------------------------- derived tables

TRAJECTORY_COLUMNS = (
    "trajectory", "actor", "is_agent", "step", "ts", "event", "category",
    "page", "product", "session", "experiment", "store", "user_agent",
)
"""Columns of :func:`trajectories`, in order."""

_UNITS = {"experiment": "experimentId", "session": "sessionId"}


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs the columns {missing}: pass the frame returned by load_whoclicked()")


def trajectories(frame: pd.DataFrame, unit: str = "experiment") -> pd.DataFrame:
    """One row per interaction event, grouped into trajectories and time-ordered.

    Args:
        frame: the typed frame of :func:`load_whoclicked`.
        unit: ``"experiment"`` (one assigned task run, the study's unit) or ``"session"``.

    Returns:
        Columns :data:`TRAJECTORY_COLUMNS`: ``trajectory`` (the experimentId or sessionId),
        ``actor``, ``is_agent`` (int 0/1), ``step`` (int, 0..len-1), ``ts`` (datetime64[ns, UTC]),
        ``event``, ``category`` (``events.category_of``), ``page``, ``product`` ("" if none),
        ``session``, ``experiment``, ``store``, ``user_agent`` (text columns never NA).
        Price logs and events on ``/admin/`` pages are dropped. Sorted by
        (``trajectory``, ``step``); equal timestamps keep file order.
    """
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}; got {unit!r}")
    _require(frame, ("record_type", "page", "ts", "eventName", "actor_type", "is_agent",
                     "sessionId", "experimentId", "storeMode", "productId", "userAgent"), "trajectories()")
    keep = (frame["record_type"] == INTERACTION).to_numpy() & ~_is_admin(frame)
    rows = frame.loc[keep]

    def text(column: str) -> pd.Series:
        return rows[column].fillna("").astype("str").reset_index(drop=True)

    table = pd.DataFrame({
        "trajectory": text(_UNITS[unit]),
        "actor": text("actor_type"),
        "is_agent": rows["is_agent"].astype("int64").reset_index(drop=True),
        "ts": rows["ts"].astype("datetime64[ns, UTC]").reset_index(drop=True),
        "event": text("eventName"),
        "page": text("page"),
        "product": text("productId"),
        "session": text("sessionId"),
        "experiment": text("experimentId"),
        "store": text("storeMode"),
        "user_agent": text("userAgent"),
    })
    table = table.sort_values(["trajectory", "ts"], kind="stable").reset_index(drop=True)
    table["step"] = table.groupby("trajectory", sort=False).cumcount().astype("int64")
    mapping = {name: events.category_of(name) for name in table["event"].unique()}
    table["category"] = table["event"].map(mapping).astype("str")
    return table[list(TRAJECTORY_COLUMNS)]


def inter_event_seconds(table: pd.DataFrame) -> pd.Series:
    """Seconds since the previous event of the same trajectory (NaN at step 0), aligned to ``table``."""
    _require(table, ("trajectory", "step", "ts"), "inter_event_seconds()")
    gap = table.groupby("trajectory", sort=False)["ts"].diff().dt.total_seconds()
    return gap.where(table["step"] > 0).rename("gap_s")


def trajectory_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per trajectory of :func:`trajectories`: actor, store, events, sessions,
    experiments, start time, duration (s) and median inter-event time (s); sorted by start."""
    _require(table, TRAJECTORY_COLUMNS, "trajectory_summary()")
    grouped = table.assign(gap_s=inter_event_seconds(table)).groupby("trajectory", sort=False)
    summary = grouped.agg(
        actor=("actor", "first"),
        store=("store", "first"),
        events=("step", "size"),
        sessions=("session", "nunique"),
        experiments=("experiment", "nunique"),
        start=("ts", "min"),
        end=("ts", "max"),
        median_gap_s=("gap_s", "median"),
    )
    summary["duration_s"] = (summary.pop("end") - summary["start"]).dt.total_seconds()
    return summary.sort_values("start").reset_index()


PRICE_COLUMNS = ("store", "product", "ts", "price", "session", "experiment", "actor", "is_agent")


def price_logs(frame: pd.DataFrame) -> pd.DataFrame:
    """The price-log rows as a table for the COI chapter, sorted by (store, product, ts).

    Columns :data:`PRICE_COLUMNS`: ``price`` in currency units (float, > 0), ``ts`` UTC.
    """
    _require(frame, ("record_type", "storeMode", "productId", "ts", "price", "sessionId",
                     "experimentId", "actor_type", "is_agent"), "price_logs()")
    rows = frame.loc[frame["record_type"] == PRICE_LOG]
    table = pd.DataFrame({
        "store": rows["storeMode"].fillna("").astype("str"),
        "product": rows["productId"].fillna("").astype("str"),
        "ts": rows["ts"],
        "price": rows["price"].astype(float),
        "session": rows["sessionId"].astype("str"),
        "experiment": rows["experimentId"].astype("str"),
        "actor": rows["actor_type"].astype("str"),
        "is_agent": rows["is_agent"].astype("int64"),
    })
    return table.sort_values(["store", "product", "ts"], kind="stable").reset_index(drop=True)


def price_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (store, product) of :func:`price_logs`: quotes, min/median/max price, distinct prices,
    and the share of quotes shown to agents."""
    _require(table, PRICE_COLUMNS, "price_summary()")
    return (
        table.groupby(["store", "product"], sort=True)
        .agg(quotes=("price", "size"), min=("price", "min"), median=("price", "median"),
             max=("price", "max"), distinct=("price", "nunique"), agent_share=("is_agent", "mean"))
        .reset_index()
    )
