"""Where WhoClickedIt comes from and how it is read: a local file, the synthetic stand-in, or the hub.

:func:`load` reads and validates one source and returns the typed frame with its validation report
and :class:`Provenance` (kind, location, sha256, rows, and its label). The source is always an
argument (``"standin"``, ``"hub"`` or a path); the library never reads it from the environment (the
book layer maps ``$PHANTOM_WHOCLICKED`` onto the notebooks' ``data_source`` parameter).

The label comes from the content, never from the name or place of a file: rows that carry the
stand-in generator's mark are "synthetic" wherever they live; a file whose sha256 is one the study
published would be "published" (it publishes none: :data:`PUBLISHED_SHA256`); anything else is
"user-supplied". Nothing is ever labelled "real".
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa

from phantom_lib._net import unreachable_reason
from phantom_lib.data.schema import STANDIN_HEADER, WhoClickedValidationError
from phantom_lib.data.validation import (
    ValidationReport,
    data_notes,
    report_of,
    validate,
)

HUB_ID = "velocitatem/whoclickedit"
"""The published data set on the Hugging Face hub (one file, ``whoclicked.csv``)."""

HUB_PROBE_TIMEOUT = 2.0
"""Seconds allowed for the reachability probe before ``datasets`` is asked for the hub."""

STANDIN_PATH = Path(__file__).resolve().parents[2] / "data" / "whoclicked_standin.csv.gz"
"""The shipped synthetic stand-in (regenerate with ``phantom data standin``)."""

PUBLISHED_SHA256: frozenset[str] = frozenset()
"""sha256 digests of ``whoclicked.csv`` as the study published it. Empty: the study publishes no
checksum of its data file, so no file can be confirmed as the study's own, and every file that is
not the synthetic stand-in is labelled "user-supplied" (never "real")."""

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of every gzip file: files are decompressed by content, not by name."""


class WhoClickedSourceError(RuntimeError):
    """The requested source cannot be read (missing file, unreachable hub)."""


_HOW_TO_PASS = (
    f"download whoclicked.csv from https://huggingface.co/datasets/{HUB_ID} on a machine with "
    "access, then pass the local copy: load_whoclicked('/path/to/whoclicked.csv'), or for a "
    "notebook `phantom run 01 -p data_source /path/to/whoclicked.csv` (for the whole book: "
    "`PHANTOM_WHOCLICKED=/path/to/whoclicked.csv make book`)"
)



@dataclass(frozen=True)
class Provenance:
    """Where the loaded data came from, for notebook banners and result provenance.

    Attributes:
        kind: how the source was named: ``"standin"`` (the shipped file), ``"path"`` (a local
            file) or ``"hub"``.
        location: the file path, or ``hf://datasets/<id>`` for the hub.
        chosen_by: ``"argument"`` or ``"default"`` (the stand-in, when no source was given).
        sha256: hex digest of the file's bytes (for the hub: of the loaded table's row hashes).
        rows: rows read (before any filtering).
        synthetic_rows: rows that carry the stand-in generator's mark
            (:data:`~phantom_lib.data.schema.STANDIN_HEADER` in ``kafka_headers``), wherever
            the file lives and whatever it is called.
    """

    kind: str
    location: str
    chosen_by: str
    sha256: str
    rows: int
    synthetic_rows: int = 0

    @property
    def synthetic(self) -> bool:
        """True when any row was made by the stand-in generator."""
        return self.synthetic_rows > 0

    @property
    def label(self) -> str:
        """``"synthetic"`` (generated rows), ``"published"`` (the bytes match a checksum in
        :data:`PUBLISHED_SHA256`) or ``"user-supplied"`` (anything else: not verified)."""
        if self.synthetic:
            return "synthetic"
        return "published" if self.sha256 in PUBLISHED_SHA256 else "user-supplied"

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Provenance:
        """The provenance :meth:`as_dict` wrote (the derived ``synthetic`` and ``label`` are recomputed)."""
        return cls(record["kind"], record["location"], record["chosen_by"], record["sha256"], int(record["rows"]),
                   int(record.get("synthetic_rows", 0)))

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (for JSON provenance files)."""
        return {
            "kind": self.kind,
            "location": self.location,
            "chosen_by": self.chosen_by,
            "sha256": self.sha256,
            "rows": self.rows,
            "synthetic": self.synthetic,
            "synthetic_rows": self.synthetic_rows,
            "label": self.label,
        }

    def banner(self) -> str:
        """A Markdown banner stating the source and its label (synthetic, user-supplied, published)."""
        where = f"`{Path(self.location).name}`" if self.kind != "hub" else f"`{self.location}`"
        ident = f"{self.rows:,} rows, sha256 `{self.sha256[:12]}`, chosen by {self.chosen_by}"
        if self.synthetic:
            share = "" if self.synthetic_rows == self.rows else f" ({self.synthetic_rows:,} of the {self.rows:,} rows)"
            return (
                f"> **SYNTHETIC STAND-IN DATA** ({where}; {ident}). These rows{share} were generated by "
                "`phantom_lib.standin` to match the published schema and counts of WhoClickedIt "
                "(they carry its mark in `kafka_headers`). Results computed from them are not the study's "
                "findings. Pass the real `whoclicked.csv` as `data_source` to reproduce the study."
            )
        if self.label == "published":
            return f"> **WhoClickedIt as published** ({where}; {ident}): the file's sha256 matches the study's."
        return (
            f"> **User-supplied data** ({where}; {ident}). Not the synthetic stand-in; nothing confirms "
            "it is the study's WhoClickedIt file (the study publishes no checksum to compare with), so "
            "results describe this file."
        )


def resolve_source(source: str | os.PathLike[str] | None = None) -> tuple[str, str, str]:
    """Decide where to read from: ``source`` is ``"standin"`` (also when ``None``, the default), ``"hub"`` or a path.

    Returns ``(kind, location, chosen_by)`` (``chosen_by`` is ``"default"`` for the stand-in
    given by default, else ``"argument"``); raises :class:`WhoClickedSourceError` for a path
    that is not a file.
    """
    chosen_by = "argument"
    if source is None or str(source) == "":
        source, chosen_by = "standin", "default"
    if str(source) == "standin":
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


def hub_unavailable_reason(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the hub cannot be used right now (offline flags, no route), or ``None`` if reachable."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if _truthy(os.environ.get(var, "")):
            return f"{var}={os.environ[var]} is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    reason = unreachable_reason(host, port, timeout)
    return None if reason is None else f"{host}:{port}: {reason}"


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


def _read_file(path: Path, origin: str) -> tuple[pd.DataFrame, list[str]]:
    """Every column as text (missing = NA), and notes on how the file was read.

    gzip is recognised by the file's first bytes, whatever its name (a ``.gz`` file that a
    browser already decompressed is read as plain text, with a note). pyarrow's parser first
    (fast, multithreaded); pandas' C parser when pyarrow refuses the file (e.g. line breaks
    inside quoted values). A truncated or corrupt gzip file is one :class:`WhoClickedSourceError`.
    """
    empty = WhoClickedValidationError(["the file is empty: expected a header row and data rows"], origin)
    if path.stat().st_size == 0:
        raise empty
    with path.open("rb") as handle:
        zipped = handle.read(2) == GZIP_MAGIC
    notes = [] if zipped or path.suffix != ".gz" else [
        f"{path.name} is named .gz but holds plain text (a browser may have decompressed it): read as plain CSV"]
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""], "encoding": "utf-8",
                               "compression": "gzip" if zipped else None}
    try:
        try:
            return pd.read_csv(path, engine="pyarrow", **options), notes
        except (pa.ArrowInvalid, ValueError):
            pass
        return pd.read_csv(path, **options), notes
    except pd.errors.EmptyDataError:
        raise empty from None
    except EOFError:
        raise WhoClickedSourceError(
            f"{origin} is a truncated gzip file (the compressed data ends early): copy or download it "
            "again (`gzip -t FILE` checks a .gz file)") from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise WhoClickedSourceError(
            f"{origin} is a corrupt gzip file ({err}): copy or download it again "
            "(`gzip -t FILE` checks a .gz file)") from None
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


@dataclass(frozen=True)
class WhoClicked:
    """A loaded, validated data set: the typed ``frame``, its ``report`` and ``provenance``."""

    frame: pd.DataFrame = field(repr=False)
    report: ValidationReport
    provenance: Provenance


def load(source: str | os.PathLike[str] | None = None, allow_duplicates: bool = False) -> WhoClicked:
    """Read and validate WhoClickedIt from ``source`` (see :func:`resolve_source`).

    Raises :class:`WhoClickedSourceError` when the source cannot be read (no such file; a
    truncated or corrupt gzip file; the hub requested while offline: the message says how to
    pass a local copy) and :class:`WhoClickedValidationError` when the data breaks the schema
    (duplicated rows included, unless ``allow_duplicates``). What is kept but worth knowing
    (time stamps without a zone, cells a spreadsheet would run as formulas) is listed in the
    report's ``notes``.
    """
    kind, location, chosen_by = resolve_source(source)
    if kind == "hub":
        raw, notes = _read_hub(), []
        digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=False).to_numpy().tobytes()).hexdigest()
        frame = validate(raw, origin=location, file_rows=False, allow_duplicates=allow_duplicates)
    else:
        path = Path(location)
        if kind == "standin" and not path.is_file():
            raise WhoClickedSourceError(
                f"the stand-in {path} is missing: regenerate it with `phantom data standin --seed 0 -o {path}`"
            )
        raw, notes = _read_file(path, origin=str(path))
        digest = _sha256(path)
        frame = validate(raw, origin=str(path), allow_duplicates=allow_duplicates)
    marked = 0
    if "kafka_headers" in frame:
        marked = int(frame["kafka_headers"].str.contains(f'"{STANDIN_HEADER}"', regex=False).fillna(False).sum())
    provenance = Provenance(kind, location, chosen_by, digest, len(raw), marked)
    notes += data_notes(raw, file_rows=kind != "hub")
    return WhoClicked(frame, report_of(frame, notes), provenance)


def load_whoclicked(source: str | os.PathLike[str] | None = None, allow_duplicates: bool = False) -> pd.DataFrame:
    """The validated, typed WhoClickedIt frame (all rows as read); see :func:`load`."""
    return load(source, allow_duplicates).frame


def provenance(source: str | os.PathLike[str] | None = None) -> Provenance:
    """Source kind, location, sha256 and row count of ``source`` (reads and validates it)."""
    return load(source).provenance


