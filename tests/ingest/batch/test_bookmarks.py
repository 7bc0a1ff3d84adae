"""Job bookmarks: re-runs, new files only, pause/disable, reset, rewind, crashes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from podium.errors import ValidationError
from podium.ingest.batch import bookmarks
from podium.ingest.batch.datasets import committed_files, read_dataset
from podium.ingest.batch.jobs import set_bookmark_option
from podium.ingest.batch.runner import list_runs, run_job


def _ids(store) -> list[int]:
    return sorted(r["id"] for r in read_dataset(store, "orders").to_pylist())


def _touch_later(path: Path) -> None:
    # Make a rewritten file's mtime differ even on coarse clocks.
    st = path.stat()
    os.utime(path, (st.st_atime + 10, st.st_mtime + 10))


def test_rerun_does_nothing_and_new_files_only(settings, any_store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1), (2, "b", 2)])
    make_job(any_store, src_dir)
    first = run_job(settings, any_store, "orders")
    assert (first.files_read, first.rows_written) == (1, 2)
    again = run_job(settings, any_store, "orders")
    assert (again.files_read, again.rows_read, again.rows_written) == (0, 0, 0)
    assert again.details["note"] == "no new data"
    write_csv(src_dir, "2.csv", [(3, "a", 3)])
    third = run_job(settings, any_store, "orders")
    assert (third.files_read, third.rows_written) == (1, 1)
    assert _ids(any_store) == [1, 2, 3]


def test_changed_file_is_read_again(settings, store, src_dir: Path, write_csv, make_job) -> None:
    path = write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    run_job(settings, store, "orders")
    write_csv(src_dir, "1.csv", [(1, "a", 1), (2, "a", 2)])
    _touch_later(path)
    assert run_job(settings, store, "orders").rows_written == 2


def test_pause_reads_new_data_without_moving_the_bookmark(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    run_job(settings, store, "orders")
    write_csv(src_dir, "2.csv", [(2, "a", 2)])
    paused = run_job(settings, store, "orders", bookmark="pause")
    assert paused.rows_written == 1
    assert run_job(settings, store, "orders", bookmark="pause").rows_written == 1
    assert run_job(settings, store, "orders").rows_written == 1  # enable: still new to the bookmark
    assert run_job(settings, store, "orders").rows_written == 0


def test_disable_reads_everything(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    set_bookmark_option(store, "orders", "disable")
    assert run_job(settings, store, "orders").rows_written == 1
    assert run_job(settings, store, "orders").rows_written == 1
    assert _ids(store) == [1, 1]


def test_reset_and_rewind(settings, any_store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(any_store, src_dir)
    r1 = run_job(settings, any_store, "orders")
    write_csv(src_dir, "2.csv", [(2, "a", 2)])
    run_job(settings, any_store, "orders")
    write_csv(src_dir, "3.csv", [(3, "a", 3)])
    run_job(settings, any_store, "orders")
    bookmarks.rewind(any_store, "orders", r1.run_id)
    again = run_job(settings, any_store, "orders")
    assert (again.files_read, again.rows_written) == (2, 2)
    bookmarks.reset(any_store, "orders")
    assert run_job(settings, any_store, "orders").files_read == 3
    with pytest.raises(ValidationError, match="not in the bookmark history"):
        bookmarks.rewind(any_store, "orders", "jr_nope")


def test_stale_bookmark_version_commits_nothing(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    with store.connect() as conn:
        state = bookmarks.load_state(conn, "orders")
    run_job(settings, store, "orders")
    from podium.errors import ConflictError

    with store.begin() as conn, pytest.raises(ConflictError) as info:
        bookmarks.advance(conn, state, "jr_other")
    assert info.value.code == "BookmarkVersionMismatch"


def test_table_source_bookmarked_by_key(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1), (2, "b", 2)])
    make_job(store, src_dir)
    run_job(settings, store, "orders")
    from podium.ingest.batch.jobs import create_job, parse_job

    copy = parse_job(
        {
            "name": "orders_copy",
            "source": {"table": "orders", "bookmark_key": "id"},
            "output": {"dataset": "orders_copy"},
            "bookmark": "enable",
        }
    )
    create_job(store, copy)
    assert run_job(settings, store, "orders_copy").rows_written == 2
    assert run_job(settings, store, "orders_copy").rows_written == 0
    write_csv(src_dir, "2.csv", [(3, "c", 3)])
    run_job(settings, store, "orders")
    third = run_job(settings, store, "orders_copy")
    assert third.rows_written == 1
    assert sorted(r["id"] for r in read_dataset(store, "orders_copy").to_pylist()) == [1, 2, 3]


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from podium.config import Settings
    from podium.store import open_store
    from podium.ingest.batch import runner
    from podium.ingest.batch.lake import Lake

    where = sys.argv[2]
    original_publish = Lake.publish
    original_write = runner._write_outputs
    moved = []

    def publish(self, *args, **kwargs):
        out = original_publish(self, *args, **kwargs)
        moved.append(out)
        if where == "publish" and len(moved) == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # files are in the lake, nothing committed
        return out

    def write(*args, **kwargs):
        out = original_write(*args, **kwargs)
        if where == "write":
            os.kill(os.getpid(), signal.SIGKILL)  # staged Parquet written, nothing moved
        return out

    Lake.publish = publish
    runner._write_outputs = write
    settings = Settings.for_home(Path(sys.argv[1]))
    runner.run_job(settings, open_store(settings), "orders")
    """
)


@pytest.mark.parametrize("where", ["write", "publish"])
def test_crash_mid_run_then_rerun_gives_each_row_once(settings, store, src_dir: Path, tmp_path: Path, where: str, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1), (2, "b", 2)])
    make_job(store, src_dir)
    run_job(settings, store, "orders")
    write_csv(src_dir, "2.csv", [(3, "a", 3), (4, "b", 4), (5, "c", 5)])
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}
    proc = subprocess.run([sys.executable, str(script), str(settings.home), where], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    runs = list_runs(store, "orders")
    assert runs[0]["status"] == "RUNNING"
    assert _ids(store) == [1, 2]  # readers never see the crashed run's files
    if where == "publish":
        on_disk = list(Path(settings.lake_url, "orders").rglob("*.parquet"))
        assert len(on_disk) > len(committed_files(store, "orders"))
    time.sleep(0.01)
    rerun = run_job(settings, store, "orders")
    assert rerun.files_read == 1 and rerun.rows_written == 3
    assert _ids(store) == [1, 2, 3, 4, 5]
    statuses = [r["status"] for r in list_runs(store, "orders")]
    assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "abandoned" in list_runs(store, "orders")[1]["error"]
    # The dead run's files were deleted: the lake holds exactly the committed files.
    on_disk = sorted(str(p) for p in Path(settings.lake_url, "orders").rglob("*.parquet"))
    assert on_disk == sorted(committed_files(store, "orders"))


def test_pause_with_a_range_of_runs(settings, store, src_dir: Path, write_csv, make_job) -> None:
    write_csv(src_dir, "1.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    r1 = run_job(settings, store, "orders")
    write_csv(src_dir, "2.csv", [(2, "a", 2)])
    run_job(settings, store, "orders")
    write_csv(src_dir, "3.csv", [(3, "a", 3)])
    r3 = run_job(settings, store, "orders")
    again = run_job(settings, store, "orders", bookmark="pause", bookmark_range=(r1.run_id, r3.run_id))
    assert (again.files_read, again.rows_written) == (2, 2)
    assert run_job(settings, store, "orders").rows_read == 0  # the bookmark did not move
    with pytest.raises(ValidationError, match="is not at or before"):
        run_job(settings, store, "orders", bookmark="pause", bookmark_range=(r3.run_id, r1.run_id))
    with pytest.raises(ValidationError, match="needs bookmark pause"):
        run_job(settings, store, "orders", bookmark="enable", bookmark_range=(r1.run_id, r3.run_id))


def test_late_file_with_an_old_timestamp_is_still_read(settings, store, src_dir: Path, write_csv, make_job) -> None:
    """Glue needs its maxBand window because its bookmark is a timestamp high-water mark;
    a bookmark of files by path, size and mtime reads a file that shows up late with an
    older modification time than everything already processed."""
    write_csv(src_dir, "b.csv", [(1, "a", 1)])
    make_job(store, src_dir)
    assert run_job(settings, store, "orders").rows_written == 1
    late = write_csv(src_dir, "a.csv", [(2, "a", 2)])
    past = (src_dir / "b.csv").stat().st_mtime - 3600
    os.utime(late, (past, past))
    second = run_job(settings, store, "orders")
    assert (second.files_read, second.rows_written) == (1, 1)
    assert _ids(store) == [1, 2]
    assert run_job(settings, store, "orders").rows_read == 0
