"""WhoClickedIt, the study's labelled click data: where it comes from, its schema, validation, tables.

The first stage of the data flow. A source (``"standin"``, ``"hub"`` or a path) is read and
validated by :func:`load`, which returns the typed frame, a :class:`ValidationReport` and the
:class:`Provenance` of the data; :func:`trajectories` and :func:`price_logs` derive the tables the
later stages read. :mod:`~phantom_lib.data.events` holds the event categories and weights of the
demand proxy; :mod:`~phantom_lib.data.standin` generates the synthetic stand-in.
"""

from phantom_lib.data.events import (
    CATEGORY_WEIGHTS,
    CHECKOUT,
    SESSION_END,
    category_of,
    demand_proxy,
    weights_of,
)
from phantom_lib.data.schema import (
    COLUMNS,
    INTERACTION,
    PRICE_LOG,
    REQUIRED,
    SCHEMA,
    Column,
    WhoClickedValidationError,
    schema_frame,
)
from phantom_lib.data.sources import (
    HUB_ID,
    PUBLISHED_SHA256,
    STANDIN_PATH,
    Provenance,
    WhoClicked,
    WhoClickedSourceError,
    load,
    load_whoclicked,
    provenance,
    resolve_source,
)
from phantom_lib.data.tables import (
    PRICE_COLUMNS,
    TRAJECTORY_COLUMNS,
    inter_event_seconds,
    price_logs,
    price_summary,
    trajectories,
    trajectory_summary,
)
from phantom_lib.data.validation import (
    ValidationReport,
    card_counts,
    compare_to_card,
    data_notes,
    report_of,
    validate,
)

__all__ = [
    "CATEGORY_WEIGHTS", "CHECKOUT", "COLUMNS", "HUB_ID", "INTERACTION", "PRICE_COLUMNS", "PRICE_LOG", "PUBLISHED_SHA256",
    "REQUIRED", "SCHEMA", "SESSION_END", "STANDIN_PATH", "TRAJECTORY_COLUMNS", "Column", "Provenance",
    "ValidationReport", "WhoClicked", "WhoClickedSourceError", "WhoClickedValidationError", "card_counts",
    "category_of", "compare_to_card", "data_notes", "demand_proxy", "inter_event_seconds", "load", "load_whoclicked",
    "price_logs", "price_summary", "provenance", "report_of", "resolve_source", "schema_frame",
    "trajectories", "trajectory_summary", "validate", "weights_of",
]
