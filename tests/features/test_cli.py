"""`podium features` as a user types it, in process, against a PODIUM_HOME in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from podium.cli.main import main


def podium(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["--json", *args])
    return capsys.readouterr().out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("PODIUM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_create_list_ingest_get_query_describe_delete(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = json.loads(podium(capsys, "features", "create", "customers", "--id", "customer_id",
                                "--event-time", "ts", "-f", "customer_id:int64", "-f", "ts:timestamp",
                                "-f", "spend:float64", "--ttl", "36500d", "--tag", "team=risk"))
    assert created["ttl_seconds"] == 36500 * 86400 and created["tags"] == {"team": "risk"}
    listed = json.loads(podium(capsys, "features", "list"))
    assert [g["name"] for g in listed] == ["customers"]
    data = home / "rows.parquet"
    pq.write_table(pa.table({"customer_id": [1, 2], "ts": ["2024-01-01T00:00:00Z"] * 2,
                             "spend": [1.5, 2.5]}), data)
    ingested = json.loads(podium(capsys, "features", "ingest", "customers", str(data)))
    assert ingested["rows"] == 2 and ingested["rows_online"] == 2
    got = json.loads(podium(capsys, "features", "get", "customers", "1", "3"))
    assert got[0]["record"]["spend"] == 1.5 and got[1]["record"] is None
    rows = json.loads(podium(capsys, "features", "query", "SELECT sum(spend) AS s FROM customers"))
    assert rows == [{"s": 4.0}]
    described = json.loads(podium(capsys, "features", "describe", "customers"))
    assert [f["name"] for f in described["features"]] == ["customer_id", "ts", "spend"]
    added = json.loads(podium(capsys, "features", "add-features", "customers", "-f", "country:string"))
    assert added["version"] == 2 and added["features"][-1]["name"] == "country"
    old = json.loads(podium(capsys, "features", "describe", "customers", "--version", "1"))
    assert len(old["features"]) == 3
    podium(capsys, "features", "delete", "customers", "--purge-data")
    assert json.loads(podium(capsys, "features", "list")) == []


def test_errors_are_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["features", "describe", "nope"])
    assert "error [NotFound]: feature group 'nope' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["features", "create", "g", "--id", "a", "--event-time", "t", "-f", "a:int64",
              "-f", "t:timestamp", "--ttl", "soon"])
    assert "--ttl 'soon'" in capsys.readouterr().err


def test_create_from_a_yaml_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = home / "group.yaml"
    definition.write_text(
        "record_identifiers: [id, shop]\nevent_time: ts\nttl: {Unit: Hours, Value: 2}\n"
        "features:\n  - {name: id, type: Integral}\n  - {name: shop, type: String}\n"
        "  - {name: ts, type: timestamp}\n  - {name: v, type: Fractional, description: value}\n"
    )
    created = json.loads(podium(capsys, "features", "create", "pairs", "--file", str(definition)))
    assert created["ttl_seconds"] == 7200 and created["record_identifiers"] == ["id", "shop"]
    assert created["features"][3] == {"name": "v", "type": "float64", "description": "value"}


def test_ingest_from_a_catalog_table_and_a_stream(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from podium.config import Settings
    from podium.ingest.streams import open_streams

    podium(capsys, "features", "create", "c", "--id", "id", "--event-time", "ts",
           "-f", "id:int64", "-f", "ts:timestamp", "-f", "v:float64")
    raw = home / "raw" / "a.parquet"
    raw.parent.mkdir()
    pq.write_table(pa.table({"key": [1, 2], "ts": ["2024-01-01T00:00:00Z"] * 2, "v": [1.0, 2.0]}), raw)
    podium(capsys, "catalog", "crawl", str(raw.parent), "--name", "raw")
    out = json.loads(podium(capsys, "features", "ingest-table", "c", "raw", "--map", "id=key",
                            "--where", "v > 1"))
    assert out["rows"] == 1

    streams = open_streams("embedded", home=Settings.for_home(home / "home").home)
    streams.create_stream("s", shard_count=1)
    streams.put_records("s", [(b'{"id": 5, "ts": "2024-01-02T00:00:00Z", "v": 5}', "k"), (b"{", "k")])
    streams.close()
    out = json.loads(podium(capsys, "features", "ingest-stream", "c", "s", "--idle-timeout", "0.2"))
    assert (out["rows"], out["quarantined"], out["reasons"]) == (1, 1, {"decode": 1})
    rows = json.loads(podium(capsys, "features", "query", "SELECT id FROM c ORDER BY id"))
    assert rows == [{"id": 2}, {"id": 5}]
