"""The schema of ``whoclicked.csv``: its 42 columns, their kinds and the validation error.

The study's labelled click data is one flat file (interaction events and price-log rows of humans
and AI shopping agents). :data:`SCHEMA` lists every column with its group (core, Kafka provenance,
flattened metadata), kind and whether it is required; :class:`WhoClickedValidationError` is the one
error validation raises, listing every problem found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ACTORS = ("human", "agent")
RECORD_TYPES = ("interaction", "price_log")
INTERACTION, PRICE_LOG = RECORD_TYPES
STANDIN_HEADER = "phantom-standin"
"""Key of the Kafka header the stand-in generator writes into ``kafka_headers`` on every row it
makes: the mark by which generated rows are recognised as synthetic wherever the file is copied."""
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

def schema_frame() -> pd.DataFrame:
    """The schema as a table: name, group, kind, required, description."""
    return pd.DataFrame(
        [(c.name, c.group, c.kind, c.required, c.description) for c in SCHEMA],
        columns=["column", "group", "kind", "required", "description"],
    )


class WhoClickedValidationError(ValueError):
    """The data does not meet the schema. ``problems`` lists every issue found, one line each (the
    message is one line when there is one problem, else a header and one line per problem)."""

    def __init__(self, problems: list[str], origin: str) -> None:
        self.problems = list(problems)
        self.origin = origin
        if len(self.problems) == 1:  # one problem, one line
            super().__init__(f"{origin} is not a valid whoclicked.csv: {self.problems[0]}")
            return
        lines = "\n  - ".join(self.problems)
        super().__init__(f"{origin} is not a valid whoclicked.csv ({len(self.problems)} problem(s)):\n  - {lines}")


def is_admin(frame: pd.DataFrame) -> np.ndarray:
    """Rows on operator pages (``page`` contains :data:`ADMIN_MARKER`), shape (rows,) bool."""
    return frame["page"].fillna("").str.contains(ADMIN_MARKER, regex=False).to_numpy()
