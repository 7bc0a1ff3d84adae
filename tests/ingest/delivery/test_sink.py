from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import BackendUnavailableError
from podium.ingest.delivery.sink import LakeSink


def test_writes_atomically_and_leaves_no_temp(tmp_path: Path) -> None:
    sink = LakeSink(str(tmp_path / "lake"))
    path = sink.write("a/b/c.bin", b"payload")
    assert Path(path).read_bytes() == b"payload"
    assert [p.name for p in (tmp_path / "lake" / "a" / "b").iterdir()] == ["c.bin"]


def test_retries_with_back_off_until_the_sink_recovers(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    blocker = tmp_path / "lake" / "a"
    blocker.write_text("a file where a directory must go")  # a real OSError on write
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            blocker.unlink()  # the problem goes away

    sink = LakeSink(str(tmp_path / "lake"), retry_duration_s=60, sleep=sleep)
    sink.write("a/x.bin", b"ok")
    assert sleeps == [0.05, 0.1, 0.2] and sink.retries == 3
    assert (tmp_path / "lake" / "a" / "x.bin").read_bytes() == b"ok"


def test_gives_up_after_the_retry_duration(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a").write_text("blocker")
    sink = LakeSink(str(tmp_path / "lake"), retry_duration_s=0.0, sleep=lambda s: None)
    with pytest.raises(BackendUnavailableError, match="cannot write"):
        sink.write("a/x.bin", b"never")
