"""Loader, validation rules, hub fallback, trajectories and price logs on hand-written files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantom_lib import data
from phantom_lib.data import events

HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
AGENT_UA = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0"


def row(actor: str, record: str, session: str, experiment: str, ts: str, event: str = "",
        page: str = "", product: str = "", price: str = "", store: str = "hotel") -> dict[str, str]:
    """One row in the published file's format (core columns; the rest left empty)."""
    return {
        "actor_type": actor, "is_agent": "1" if actor == "agent" else "0", "record_type": record,
        "sessionId": session, "experimentId": experiment, "storeMode": store, "ts": ts,
        "eventName": event, "page": page, "productId": product, "price": price,
        "userAgent": (AGENT_UA if actor == "agent" else HUMAN_UA) if record == "interaction" else "",
    }


def fixture_rows() -> list[dict[str, str]]:
    """Two human experiments (e1 over sessions s1 and s2, e2 in s3) and one agent experiment
    (e3 in s9), written out of time order, with an /admin/ view, an unknown event name, a
    timestamp tie, and price logs. Times use the card's '+00:00' ISO format."""
    t = "2025-12-05T10:00:{:02d}.{:03d}000+00:00".format
    return [
        row("human", "interaction", "s2", "e1", t(40, 0), "view_item_page", "/hotel/products/htl-1", "htl-1"),
        row("human", "interaction", "s1", "e1", t(10, 0), "page_view", "/hotel/products"),
        row("human", "interaction", "s1", "e1", t(5, 0), "page_view", "/admin/experiments"),
        row("human", "interaction", "s1", "e1", t(20, 500), "hover_over_title", "/hotel/products", "htl-1"),
        row("human", "interaction", "s1", "e1", t(20, 500), "scroll_depth", "/hotel/products"),
        row("human", "price_log", "s1", "e1", t(10, 200), product="htl-1", price="120.00"),
        row("human", "price_log", "s2", "e1", t(40, 100), product="htl-1", price="132.00"),
        row("human", "interaction", "s3", "e2", t(1, 0), "page_view", "/airline", store="airline"),
        row("human", "interaction", "s3", "e2", t(3, 250), "checkout_start", "/airline/checkout", store="airline"),
        row("agent", "interaction", "s9", "e3", t(2, 0), "view_item_page", "/hotel/products/htl-0", "htl-0"),
        row("agent", "interaction", "s9", "e3", t(3, 0), "learn_more_about_item", "/hotel/products/htl-0", "htl-0"),
        row("agent", "interaction", "s9", "e3", t(4, 0), "add_item_to_cart", "/hotel/products/htl-0", "htl-0"),
        row("agent", "price_log", "s9", "e3", t(2, 10), product="htl-0", price="99.50"),
        row("agent", "price_log", "s9", "e3", t(3, 10), product="htl-0", price="99.50"),
    ]


def write(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def fixture_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "whoclicked.csv", fixture_rows())


def problems_of(path: Path) -> list[str]:
    with pytest.raises(data.WhoClickedValidationError) as caught:
        data.load(path)
    return caught.value.problems


# --------------------------------------------------------------------------- loading


def test_schema_has_the_42_published_columns():
    assert len(data.COLUMNS) == 42 == len(set(data.COLUMNS))
    assert set(data.REQUIRED) == {
        "actor_type", "is_agent", "record_type", "sessionId", "experimentId", "storeMode",
        "ts", "eventName", "page", "productId", "price", "userAgent",
    }
    assert [c for c in data.COLUMNS if c.startswith("metadata_")] == sorted(
        c for c in data.COLUMNS if c.startswith("metadata_")
    )
    assert sum(c.startswith("metadata_") for c in data.COLUMNS) == 13


def test_real_format_fixture_loads_with_types_and_report(fixture_csv: Path):
    loaded = data.load(fixture_csv)
    frame, report = loaded.frame, loaded.report
    assert len(frame) == 14
    assert frame["is_agent"].dtype == np.int64
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert frame["price"].dtype == np.float64
    assert frame["ts"].min() == pd.Timestamp("2025-12-05T10:00:01Z")
    assert report.admin_events == 1
    assert report.unknown_events == {"scroll_depth": 1}
    assert report.guessed_categories == {"scroll_depth": "nav"}
    assert len(report.missing_optional) == 30  # only the 12 core columns were written
    assert report.counts["experiments/human"] == 2 and report.counts["sessions/human"] == 3
    assert report.counts["human/price_log"] == 2 and report.counts["agent/interaction"] == 3
    assert loaded.provenance.kind == "path" and not loaded.provenance.synthetic
    assert loaded.provenance.rows == 14 and len(loaded.provenance.sha256) == 64
    assert loaded.provenance.label == "user-supplied" and "User-supplied data" in loaded.provenance.banner()


def test_the_source_is_an_argument_and_the_library_never_reads_the_environment(fixture_csv, monkeypatch):
    monkeypatch.setenv("PHANTOM_WHOCLICKED", str(fixture_csv))
    assert data.resolve_source() == ("standin", str(data.STANDIN_PATH), "default")
    assert data.resolve_source(fixture_csv) == ("path", str(fixture_csv.resolve()), "argument")
    assert data.resolve_source("standin")[0] == "standin"
    assert data.resolve_source("hub") == ("hub", f"hf://datasets/{data.HUB_ID}", "argument")
    with pytest.raises(data.WhoClickedSourceError, match="is not a file"):
        data.resolve_source(fixture_csv.parent / "nope.csv")


def test_extra_columns_are_kept_and_reported(tmp_path):
    rows = [dict(r, source_row_index=str(i)) for i, r in enumerate(fixture_rows())]
    loaded = data.load(write(tmp_path / "extra.csv", rows))
    assert loaded.report.extra_columns == ("source_row_index",)
    assert loaded.frame["source_row_index"].iloc[3] == "3"


# --------------------------------------------------------------------------- validation rules


def test_missing_column_is_named_with_a_rename_hint(tmp_path):
    rows = [{("actorType" if k == "actor_type" else k): v for k, v in r.items() if k != "ts"} for r in fixture_rows()]
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert any(p.startswith("ts: required column is missing") for p in problems)
    assert any("actor_type: required column is missing (the file has 'actorType'" in p for p in problems)


def test_bad_labels_are_counted_with_an_example(tmp_path):
    rows = fixture_rows()
    rows[3]["actor_type"] = "Human"
    rows[5]["actor_type"] = "Human"
    rows[6]["record_type"] = "pricelog"
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert "actor_type: 2 row(s) are not 'human' or 'agent'; e.g. row 3 (line 5) has actor_type='Human'" in problems[0]
    assert any(p.startswith("record_type: 1 row(s) are not 'interaction' or 'price_log'") for p in problems)


def test_is_agent_contradicting_actor_type(tmp_path):
    rows = fixture_rows()
    rows[9]["is_agent"] = "0"
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert problems == [
        "is_agent: 1 row(s) contradict actor_type; e.g. row 9 (line 11) has actor_type='agent', is_agent='0'. "
        "Fix: is_agent must be 1 exactly when actor_type is 'agent'"
    ]


def test_unparseable_timestamp(tmp_path):
    rows = fixture_rows()
    rows[4]["ts"] = "05/12/2025 10:00"
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert len(problems) == 1
    assert problems[0].startswith("ts: 1 row(s) are missing or not ISO 8601 timestamps; e.g. row 4 (line 6)")


@pytest.mark.parametrize("price, what", [("-3.5", "'-3.5'"), ("0", "'0'"), ("", "empty"), ("free", "'free'")])
def test_price_logs_need_a_positive_price(tmp_path, price, what):
    rows = fixture_rows()
    rows[12]["price"] = price
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert any(p.startswith("price: 1 row(s) are price logs without a price > 0; e.g. row 12 (line 14) has "
                            f"record_type='price_log', price={what}") for p in problems)


def test_interactions_need_an_event_name_and_every_row_its_ids(tmp_path):
    rows = fixture_rows()
    rows[0]["eventName"] = ""
    rows[1]["sessionId"] = ""
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert any(p.startswith("eventName: 1 row(s) are interactions without an eventName") for p in problems)
    assert any(p.startswith("sessionId: 1 row(s) are missing") for p in problems)


def test_an_id_shared_by_both_actors_is_rejected(tmp_path):
    rows = fixture_rows()
    rows[9]["experimentId"] = "e1"
    problems = problems_of(write(tmp_path / "bad.csv", rows))
    assert any(p.startswith("experimentId: 8 row(s) belong to ids shared by human and agent rows") for p in problems)


def test_every_problem_is_reported_at_once(tmp_path):
    rows = fixture_rows()
    rows[0]["actor_type"] = "robot"
    rows[1]["ts"] = "yesterday"
    rows[5]["price"] = "-1"
    rows[6]["kafka_offset"] = ""
    for r in rows:
        r.setdefault("kafka_offset", "7")
    rows[7]["kafka_offset"] = "seven"
    with pytest.raises(data.WhoClickedValidationError) as caught:
        data.load(write(tmp_path / "bad.csv", rows))
    columns = [p.split(":")[0] for p in caught.value.problems]
    assert columns == ["actor_type", "ts", "price", "kafka_offset"]
    assert "4 problem(s)" in str(caught.value)


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert problems_of(empty) == ["the file is empty: expected a header row and data rows"]
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(data.REQUIRED) + "\n")
    assert problems_of(header_only) == ["the file has a header but no data rows"]


def test_wrong_delimiter_is_diagnosed(tmp_path):
    problems = problems_of(write(tmp_path / "semicolons.csv", fixture_rows(), delimiter=";"))
    assert len(problems) == 1
    assert "single column" in problems[0] and "semicolons" in problems[0] and "re-save it with ','" in problems[0]


def test_quoted_line_breaks_fall_back_to_the_c_parser(tmp_path):
    rows = [dict(r, metadata_elementText="") for r in fixture_rows()]
    rows[3]["metadata_elementText"] = "Harbour Hotel\nsea view"
    frame = data.load(write(tmp_path / "multiline.csv", rows)).frame
    assert frame["metadata_elementText"].iloc[3] == "Harbour Hotel\nsea view"


# --------------------------------------------------------------------------- the hub


def test_hub_offline_fails_at_once_with_how_to_pass_a_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    def never(*args, **kwargs):
        raise AssertionError("datasets.load_dataset must not be called while offline")

    monkeypatch.setattr(datasets, "load_dataset", never)
    with pytest.raises(data.WhoClickedSourceError) as caught:
        data.load("hub")
    message = str(caught.value)
    assert "HF_HUB_OFFLINE=1 is set" in message
    assert "PHANTOM_WHOCLICKED=" in message and "phantom run 01 -p data_source" in message


def test_hub_unreachable_endpoint_is_probed_not_waited_for(monkeypatch, tmp_path):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(data.WhoClickedSourceError, match=r"hub cannot be used \(127\.0\.0\.1:9: connection refused\)"):
        data.load("hub")


def test_hub_path_validates_what_datasets_returns(monkeypatch, tmp_path, fixture_csv):
    """When the hub answers, its table goes through the same validation (typed by arrow)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    import datasets

    real = datasets.load_dataset
    monkeypatch.setattr(data.sources, "hub_unavailable_reason", lambda timeout=0: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, **kw: real("csv", data_files=str(fixture_csv)))
    loaded = data.load("hub")
    assert loaded.provenance.kind == "hub" and loaded.provenance.rows == 14
    pd.testing.assert_frame_equal(
        data.trajectories(loaded.frame), data.trajectories(data.load(fixture_csv).frame)
    )


# --------------------------------------------------------------------------- derived tables


def test_trajectory_contract_on_the_fixture(fixture_csv):
    table = data.trajectories(data.load(fixture_csv).frame, "experiment")
    assert tuple(table.columns) == data.TRAJECTORY_COLUMNS
    assert table["is_agent"].dtype == np.int64 and table["step"].dtype == np.int64
    assert str(table["ts"].dtype) == "datetime64[ns, UTC]"
    text = [c for c in data.TRAJECTORY_COLUMNS if c not in ("is_agent", "step", "ts")]
    assert all(pd.api.types.is_string_dtype(table[c]) and not table[c].isna().any() for c in text)
    # admin page dropped; time order within e1 across its two sessions; the tie keeps file order
    expected = {
        "e1": ["page_view", "hover_over_title", "scroll_depth", "view_item_page"],
        "e2": ["page_view", "checkout_start"],
        "e3": ["view_item_page", "learn_more_about_item", "add_item_to_cart"],
    }
    assert {k: g["event"].tolist() for k, g in table.groupby("trajectory")} == expected
    assert table["trajectory"].tolist() == sorted(table["trajectory"])
    steps = table.groupby("trajectory")["step"].apply(list).to_dict()
    assert steps == {k: list(range(len(v))) for k, v in expected.items()}
    e1 = table[table["trajectory"] == "e1"]
    assert e1["session"].tolist() == ["s1", "s1", "s1", "s2"]
    assert e1["product"].tolist() == ["", "htl-1", "", "htl-1"]
    assert e1["category"].tolist() == [events.category_of(e) for e in expected["e1"]]
    assert table.set_index("trajectory")["actor"].groupby(level=0).first().to_dict() == {
        "e1": "human",
        "e2": "human",
        "e3": "agent",
    }
    assert (table["is_agent"] == (table["actor"] == "agent")).all()


def test_session_unit_splits_experiments_into_sessions(fixture_csv):
    table = data.trajectories(data.load(fixture_csv).frame, "session")
    assert table.groupby("trajectory")["event"].apply(list).to_dict() == {
        "s1": ["page_view", "hover_over_title", "scroll_depth"],
        "s2": ["view_item_page"],
        "s3": ["page_view", "checkout_start"],
        "s9": ["view_item_page", "learn_more_about_item", "add_item_to_cart"],
    }
    with pytest.raises(ValueError, match="unit must be one of"):
        data.trajectories(data.load(fixture_csv).frame, "user")


def test_trajectories_ask_for_the_loaded_frame():
    with pytest.raises(KeyError, match="pass the frame returned by load_whoclicked"):
        data.trajectories(pd.DataFrame({"ts": []}))


def test_inter_event_times_and_summary(fixture_csv):
    table = data.trajectories(data.load(fixture_csv).frame)
    gaps = data.inter_event_seconds(table)
    assert gaps[table["trajectory"] == "e1"].tolist()[1:] == [10.5, 0.0, 19.5]
    assert np.isnan(gaps[table["step"] == 0]).all()
    summary = data.trajectory_summary(table).set_index("trajectory")
    assert summary.loc["e1", "events"] == 4 and summary.loc["e1", "sessions"] == 2
    assert summary.loc["e1", "duration_s"] == 30.0 and summary.loc["e3", "median_gap_s"] == 1.0


def test_price_log_table(fixture_csv):
    prices = data.price_logs(data.load(fixture_csv).frame)
    assert tuple(prices.columns) == data.PRICE_COLUMNS
    assert prices[["product", "price", "actor"]].values.tolist() == [
        ["htl-0", 99.5, "agent"],
        ["htl-0", 99.5, "agent"],
        ["htl-1", 120.0, "human"],
        ["htl-1", 132.0, "human"],
    ]
    summary = data.price_summary(prices).set_index("product")
    assert summary.loc["htl-1", "median"] == 126.0 and summary.loc["htl-0", "agent_share"] == 1.0
