"""The embedded durable log: streams as append-only segment files on the local disk.

Layout under the root (`<home>/streams`):

    <stream>/meta.json               stream metadata + segment list (replaced atomically)
    <stream>/lock                    flock'ed by whoever appends or changes metadata
    <stream>/<shard>/<first seq>.log records (framing in `segment.py`)
    <stream>/<shard>/<first seq>.idx sparse index: (seq, offset, arrival ms) every 4 KiB

Writers take the stream's file lock for each put call, so producers in several processes
may share a stream; appends go to the page cache with one write() per shard per call, which
already survives kill -9 of the writer; `fsync` decides how much survives power loss.
Readers never lock: they read up to the last complete batch they can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import struct
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.streams.base import MetaChange, StaleShardMapError
from podium.ingest.streams.model import ReadBatch, Record, ShardMeta, StreamMeta
from podium.ingest.streams.segment import decode, encode_batch, scan_committed

INDEX = struct.Struct("<QQq")
FSYNC_POLICIES = ("always", "interval", "never")


@dataclass
class EmbeddedOptions:
    fsync: str = "interval"  # "always" per put call | "interval" | "never"
    fsync_interval_ms: int = 1000
    segment_bytes: int = 64 * 1024 * 1024
    index_every_bytes: int = 4096
    retention_check_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.fsync not in FSYNC_POLICIES:
            raise ValidationError(
                f"streams fsync policy '{self.fsync}' is not one of {', '.join(FSYNC_POLICIES)}",
                code="InvalidArgument",
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}"


@dataclass
class _Segment:
    first: int
    last_ts: int | None = None  # set when the segment is no longer active


@dataclass
class _Layout:
    """meta.json as loaded: the stream metadata and each shard's segments, oldest first."""

    meta: StreamMeta
    segments: dict[str, list[_Segment]]
    identity: tuple[int, int] = (0, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "stream": self.meta.to_json(),
            "segments": {
                shard: [[s.first, s.last_ts] for s in segs] for shard, segs in self.segments.items()
            },
        }


@dataclass
class _ShardWriter:
    fd: int
    idx_fd: int
    first: int
    end: int
    next_seq: int
    last_ts: int
    since_index: int
    dirty: bool = False


@dataclass
class _StreamWriter:
    lock_fd: int
    layout: _Layout | None = None
    shards: dict[str, _ShardWriter] = field(default_factory=dict)
    mutex: threading.Lock = field(default_factory=threading.Lock)
    last_sync_ms: int = 0
    last_retention_ms: int = 0


@dataclass
class _IndexCache:
    size: int = 0
    seqs: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)


class EmbeddedLogBackend:
    """Streams stored as segment files under one directory; see the module docstring."""

    def __init__(self, root: str | os.PathLike[str], options: EmbeddedOptions | None = None) -> None:
        self.root = Path(root)
        self.options = options or EmbeddedOptions()
        self._writers: dict[str, _StreamWriter] = {}
        self._layouts: dict[str, _Layout] = {}
        self._indexes: dict[str, _IndexCache] = {}
        self._fds: dict[str, int] = {}
        self._guard = threading.Lock()
        self._cache_lock = threading.RLock()  # reader caches, shared by API threads
        self._syncer: threading.Thread | None = None
        self._stop = threading.Event()

    # -- metadata -------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        return self.root / name

    def _read_layout(self, name: str) -> _Layout:
        path = self._dir(name) / "meta.json"
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                body = json.loads(fh.read())
        except FileNotFoundError:
            raise NotFoundError(
                f"stream '{name}' does not exist; create it with `podium stream create {name}`",
                code="ResourceNotFound",
            ) from None
        segments = {
            shard: [_Segment(int(first), last_ts) for first, last_ts in segs]
            for shard, segs in body["segments"].items()
        }
        return _Layout(StreamMeta.from_json(body["stream"]), segments, (st.st_ino, st.st_mtime_ns))

    def _write_layout(self, layout: _Layout) -> None:
        directory = self._dir(layout.meta.name)
        tmp = directory / f"meta.json.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(layout.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / "meta.json")
        self._fsync_dir(directory)
        st = os.stat(directory / "meta.json")
        layout.identity = (st.st_ino, st.st_mtime_ns)

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _layout(self, name: str) -> _Layout:
        """The reader's copy of meta.json, reloaded when the file was replaced."""
        cached = self._layouts.get(name)
        try:
            st = os.stat(self._dir(name) / "meta.json")
        except FileNotFoundError:
            self._layouts.pop(name, None)
            raise NotFoundError(
                f"stream '{name}' does not exist; create it with `podium stream create {name}`",
                code="ResourceNotFound",
            ) from None
        if cached is None or cached.identity != (st.st_ino, st.st_mtime_ns):
            cached = self._read_layout(name)
            self._layouts[name] = cached
            self._forget_expired(name, cached)
        return cached

    def _forget_expired(self, name: str, layout: _Layout) -> None:
        """Close files of segments that retention deleted (kept open, they pin disk space)."""
        directory = str(self._dir(name))
        live = {
            str(self._dir(name) / shard / _segment_name(seg.first))
            for shard, segs in layout.segments.items()
            for seg in segs
        }
        with self._cache_lock:
            for path in list(self._fds):
                base = path.rsplit(".", 1)[0]
                if path.startswith(directory + os.sep) and base not in live:
                    self._forget(path)

    def first_sequence(self) -> int:
        return 1

    def create_stream(self, meta: StreamMeta) -> StreamMeta:
        self.root.mkdir(parents=True, exist_ok=True)
        directory = self._dir(meta.name)
        try:
            directory.mkdir()
        except FileExistsError:
            if (directory / "meta.json").exists():
                raise ConflictError(
                    f"stream '{meta.name}' already exists", code="ResourceInUse"
                ) from None
        segments = {}
        for shard in meta.shards:
            (directory / shard.shard_id).mkdir(exist_ok=True)
            segments[shard.shard_id] = [_Segment(shard.starting_sequence)]
        self._write_layout(_Layout(meta, segments))
        return meta

    def load_stream(self, name: str) -> StreamMeta:
        return self._layout(name).meta

    def list_streams(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/meta.json"))

    def delete_stream(self, name: str) -> None:
        with self._locked(name) as writer:
            self._drop_writer(name, writer)
            shutil.rmtree(self._dir(name))
        os.close(writer.lock_fd)
        self._layouts.pop(name, None)

    def update_stream(self, name: str, change: MetaChange) -> StreamMeta:
        with self._locked(name) as writer:
            layout = writer.layout
            assert layout is not None
            last = {}
            for shard in layout.meta.open_shards():
                w = self._shard_writer(name, writer, shard)
                last[shard.shard_id] = w.next_seq - 1
            new_meta = change(layout.meta, last, 0)
            segments = {k: list(v) for k, v in layout.segments.items()}
            for shard in new_meta.shards:
                if shard.shard_id not in segments:
                    (self._dir(name) / shard.shard_id).mkdir(exist_ok=True)
                    segments[shard.shard_id] = [_Segment(shard.starting_sequence)]
                elif not shard.is_open and layout.meta.shard(shard.shard_id).is_open:
                    closing = writer.shards.pop(shard.shard_id, None)
                    if closing is not None:
                        last_ts = closing.last_ts if closing.end else None
                        segments[shard.shard_id][-1].last_ts = last_ts
                        self._close_writer(closing)
            new_layout = _Layout(new_meta, segments)
            self._write_layout(new_layout)
            writer.layout = new_layout
            return new_meta

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[_StreamWriter]:
        with self._guard:
            writer = self._writers.get(name)
            if writer is None:
                directory = self._dir(name)
                if not (directory / "meta.json").exists():
                    raise NotFoundError(
                        f"stream '{name}' does not exist; create it with "
                        f"`podium stream create {name}`",
                        code="ResourceNotFound",
                    )
                fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
                writer = _StreamWriter(fd)
                self._writers[name] = writer
        with writer.mutex:
            fcntl.flock(writer.lock_fd, fcntl.LOCK_EX)
            try:
                self._refresh_writer(name, writer)
                yield writer
            finally:
                fcntl.flock(writer.lock_fd, fcntl.LOCK_UN)

    def _refresh_writer(self, name: str, writer: _StreamWriter) -> None:
        """Another process may have appended, rolled a segment or resharded since we held
        the lock: pick up its metadata and re-open shards whose files changed."""
        try:
            st = os.stat(self._dir(name) / "meta.json")
        except FileNotFoundError:
            raise NotFoundError(f"stream '{name}' was deleted", code="ResourceNotFound") from None
        if writer.layout is None or writer.layout.identity != (st.st_ino, st.st_mtime_ns):
            writer.layout = self._read_layout(name)
            for w in writer.shards.values():
                self._close_writer(w)
            writer.shards.clear()

    def _shard_writer(self, name: str, writer: _StreamWriter, shard: ShardMeta) -> _ShardWriter:
        w = writer.shards.get(shard.shard_id)
        if w is not None:
            if os.fstat(w.fd).st_size != w.end:
                self._recover(w, shard)  # another process appended (or crashed mid-write)
            return w
        assert writer.layout is not None
        seg = writer.layout.segments[shard.shard_id][-1]
        base = self._dir(name) / shard.shard_id / _segment_name(seg.first)
        fd = os.open(f"{base}.log", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        idx_fd = os.open(f"{base}.idx", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        w = _ShardWriter(fd, idx_fd, seg.first, 0, seg.first, 0, 0)
        self._recover(w, shard)
        writer.shards[shard.shard_id] = w
        return w

    def _recover(self, w: _ShardWriter, shard: ShardMeta) -> None:
        """Find the end of the committed records and cut off a torn tail, if any."""
        size = os.fstat(w.fd).st_size
        start, seq, ts = 0, w.first, 0
        idx_size = os.fstat(w.idx_fd).st_size
        entries = list(INDEX.iter_unpack(os.pread(w.idx_fd, idx_size, 0)[: idx_size - idx_size % INDEX.size]))
        if w.end and w.end <= size:
            start, seq, ts = w.end, w.next_seq, w.last_ts
        else:
            # Resume from the newest index point that still lies inside the file.
            for e_seq, e_off, e_ts in reversed(entries):
                if e_off < size:
                    start, seq, ts = e_off, e_seq, e_ts
                    break
        data = os.pread(w.fd, size - start, start)
        scan = scan_committed(data, 0, seq)
        if scan.end == 0 and not scan.clean and start:
            # The index pointed at garbage (power loss): rescan from the start of the file.
            data = os.pread(w.fd, size, 0)
            start, seq, ts = 0, w.first, 0
            scan = scan_committed(data, 0, seq)
        end = start + scan.end
        if end < size:
            os.ftruncate(w.fd, end)
        good = [e for e in entries if e[1] < end]
        if len(good) != len(entries):
            os.ftruncate(w.idx_fd, len(good) * INDEX.size)
        w.end = end
        w.next_seq = max(scan.next_seq, shard.starting_sequence, w.first)
        w.last_ts = scan.last_ts if scan.last_ts is not None else ts
        last_point = good[-1][1] if good else 0
        w.since_index = end - last_point if good else end + self.options.index_every_bytes

    def _close_writer(self, w: _ShardWriter) -> None:
        if w.dirty:
            os.fdatasync(w.fd)
        os.close(w.fd)
        os.close(w.idx_fd)

    def _drop_writer(self, name: str, writer: _StreamWriter) -> None:
        for w in writer.shards.values():
            self._close_writer(w)
        writer.shards.clear()
        self._writers.pop(name, None)

    def _roll(self, name: str, writer: _StreamWriter, shard: ShardMeta, w: _ShardWriter) -> _ShardWriter:
        assert writer.layout is not None
        segs = writer.layout.segments[shard.shard_id]
        segs[-1].last_ts = w.last_ts
        segs.append(_Segment(w.next_seq))
        self._close_writer(w)
        writer.layout = _Layout(writer.layout.meta, writer.layout.segments)
        base = self._dir(name) / shard.shard_id / _segment_name(w.next_seq)
        fd = os.open(f"{base}.log", os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        idx_fd = os.open(f"{base}.idx", os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        self._write_layout(writer.layout)
        new = _ShardWriter(fd, idx_fd, w.next_seq, 0, w.next_seq, w.last_ts, self.options.index_every_bytes)
        writer.shards[shard.shard_id] = new
        return new

    def append(
        self, meta: StreamMeta, batches: Mapping[str, Sequence[tuple[str, bytes]]]
    ) -> dict[str, list[int] | Exception]:
        name = meta.name
        opts = self.options
        results: dict[str, list[int] | Exception] = {}
        with self._locked(name) as writer:
            layout = writer.layout
            assert layout is not None
            current = {s.shard_id: s for s in layout.meta.shards}
            for shard_id in batches:
                shard = current.get(shard_id)
                if shard is None or not shard.is_open:
                    raise StaleShardMapError(
                        f"shard '{shard_id}' of stream '{name}' is closed", code="StaleShardMap"
                    )
            now = _now_ms()
            for shard_id, items in batches.items():
                if not items:
                    results[shard_id] = []
                    continue
                shard = current[shard_id]
                try:
                    w = self._shard_writer(name, writer, shard)
                    if w.end >= opts.segment_bytes:
                        w = self._roll(name, writer, shard, w)
                    ts = now if now > w.last_ts else w.last_ts
                    blob, points, since = encode_batch(
                        w.next_seq, ts, items, opts.index_every_bytes, w.since_index
                    )
                    written = os.write(w.fd, blob)
                    if written != len(blob):
                        os.ftruncate(w.fd, w.end)
                        raise OSError(f"short write to shard {shard_id}: {written} of {len(blob)}")
                    if points:
                        os.write(
                            w.idx_fd,
                            b"".join(INDEX.pack(seq, w.end + off, ts) for seq, off in points),
                        )
                    if opts.fsync == "always":
                        os.fdatasync(w.fd)
                    else:
                        w.dirty = True
                    first = w.next_seq
                    w.next_seq += len(items)
                    w.end += len(blob)
                    w.last_ts = ts
                    w.since_index = since
                    results[shard_id] = list(range(first, first + len(items)))
                except OSError as exc:
                    results[shard_id] = exc
            if opts.fsync == "interval":
                if now - writer.last_sync_ms >= opts.fsync_interval_ms:
                    self._sync(writer)
                    writer.last_sync_ms = now
                if self._syncer is None or not self._syncer.is_alive():
                    self._start_syncer()
            if now - writer.last_retention_ms >= opts.retention_check_ms:
                writer.last_retention_ms = now
                self._expire(name, writer, now)
        return results

    def _sync(self, writer: _StreamWriter) -> None:
        for w in writer.shards.values():
            if w.dirty:
                os.fdatasync(w.fd)
                w.dirty = False

    def _start_syncer(self) -> None:
        """With fsync "interval", a daemon thread syncs streams that went quiet, so the
        interval bounds what a power cut can take even when no further put comes."""

        def loop() -> None:
            interval = self.options.fsync_interval_ms
            while not self._stop.wait(interval / 1000):
                now = _now_ms()
                for writer in list(self._writers.values()):
                    if now - writer.last_sync_ms < interval:
                        continue
                    with writer.mutex:
                        try:
                            self._sync(writer)
                        except OSError:
                            continue  # closed under us; the next put or close syncs
                        writer.last_sync_ms = now

        self._stop.clear()
        self._syncer = threading.Thread(target=loop, name="podium-streams-fsync", daemon=True)
        self._syncer.start()

    def flush(self) -> None:
        """fsync everything appended so far, whatever the policy."""
        for writer in list(self._writers.values()):
            with writer.mutex:
                self._sync(writer)

    # -- retention ------------------------------------------------------------------------

    def enforce_retention(self, stream: str, now_ms: int) -> StreamMeta:
        with self._locked(stream) as writer:
            self._expire(stream, writer, now_ms)
            assert writer.layout is not None
            return writer.layout.meta

    def _expire(self, name: str, writer: _StreamWriter, now_ms: int) -> None:
        layout = writer.layout
        assert layout is not None
        cutoff = now_ms - layout.meta.retention_hours * 3_600_000
        changed = False
        shards = []
        for shard in layout.meta.shards:
            segs = layout.segments.get(shard.shard_id, [])
            # Only whole segments go: the active one (last of an open shard) always stays.
            keep_from = 0
            closed_all = not shard.is_open
            limit = len(segs) if closed_all else len(segs) - 1
            while keep_from < limit and (segs[keep_from].last_ts or 0) < cutoff:
                keep_from += 1
            for seg in segs[:keep_from]:
                base = self._dir(name) / shard.shard_id / _segment_name(seg.first)
                for suffix in (".log", ".idx"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{base}{suffix}")
                changed = True
            if keep_from:
                layout.segments[shard.shard_id] = segs[keep_from:]
            if (
                closed_all
                and not shard.expired
                and not layout.segments[shard.shard_id]
                and (shard.closed_at_ms or 0) < cutoff
            ):
                shard = replace(shard, expired=True)
                shutil.rmtree(self._dir(name) / shard.shard_id, ignore_errors=True)
                changed = True
            shards.append(shard)
        if changed:
            writer.layout = _Layout(layout.meta.evolve(shards=tuple(shards)), layout.segments)
            self._write_layout(writer.layout)

    # -- reading --------------------------------------------------------------------------

    def _fd(self, path: str) -> int | None:
        fd = self._fds.get(path)
        if fd is None:
            with self._cache_lock:
                fd = self._fds.get(path)
                if fd is None:
                    try:
                        fd = os.open(path, os.O_RDONLY)
                    except FileNotFoundError:
                        return None
                    self._fds[path] = fd
        return fd

    def _forget(self, path: str) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)
        self._indexes.pop(path.rsplit(".", 1)[0], None)  # keyed by the segment's base path

    def _index(self, base: str) -> _IndexCache:
        with self._cache_lock:
            return self._load_index(base)

    def _load_index(self, base: str) -> _IndexCache:
        cache = self._indexes.setdefault(base, _IndexCache())
        fd = self._fd(f"{base}.idx")
        if fd is None:
            return cache
        size = os.fstat(fd).st_size
        size -= size % INDEX.size
        if size > cache.size:
            for seq, off, ts in INDEX.iter_unpack(os.pread(fd, size - cache.size, cache.size)):
                cache.seqs.append(seq)
                cache.offsets.append(off)
                cache.stamps.append(ts)
            cache.size = size
        elif size < cache.size:  # truncated by recovery: start over
            self._indexes.pop(base)
            return self._load_index(base)
        return cache

    def _segments(self, stream: str, shard: ShardMeta) -> list[_Segment]:
        segs = self._layout(stream).segments.get(shard.shard_id)
        if segs is None:
            raise NotFoundError(
                f"shard '{shard.shard_id}' of stream '{stream}' has no data",
                code="ResourceNotFound",
            )
        return segs

    def read(
        self,
        stream: str,
        shard: ShardMeta,
        position: int,
        limit: int,
        min_timestamp_ms: int,
        now_ms: int,
    ) -> ReadBatch:
        segs = self._segments(stream, shard)
        if not segs:
            return ReadBatch([], position, 0)
        firsts = [s.first for s in segs]
        position = max(position, firsts[0])
        i = max(bisect_right(firsts, position) - 1, 0)
        records: list[Record] = []
        next_position = position
        behind_ts: int | None = None
        limited = False
        while i < len(segs):
            base = str(self._dir(stream) / shard.shard_id / _segment_name(segs[i].first))
            fd = self._fd(f"{base}.log")
            if fd is None:  # expired under us: continue with the next segment
                self._forget(f"{base}.log")
                i += 1
                continue
            index = self._index(base)
            j = bisect_right(index.seqs, next_position) - 1
            offset = index.offsets[j] if j >= 0 else 0
            size = os.fstat(fd).st_size
            want = limit - len(records)
            chunk = max(65536, want * 1200)
            while offset < size and want > 0:
                avail = size - offset
                data = os.pread(fd, min(avail, chunk), offset)
                got = decode(data, 0, next_position, want, min_timestamp_ms)
                records.extend(got.records)
                want -= len(got.records)
                if got.end == 0 and len(data) < avail:
                    chunk *= 2  # one batch is larger than the chunk
                    continue
                offset += got.end
                next_position = max(next_position, got.next_seq)
                if got.more:
                    behind_ts = got.next_ts
                    break
                if got.end < len(data) and len(data) == avail:
                    break  # a batch still being written (or a torn tail): not visible yet
            if behind_ts is not None:
                break
            if want <= 0:
                limited = offset < size or i + 1 < len(segs)
                break
            if i + 1 < len(segs):
                next_position = max(next_position, segs[i + 1].first)
            i += 1
        if behind_ts is None and limited and records:
            behind_ts = records[-1].approximate_arrival_timestamp
        behind = max(0, now_ms - behind_ts) if behind_ts is not None else 0
        return ReadBatch(records, next_position, behind)

    def latest_position(self, stream: str, shard: ShardMeta) -> int:
        if shard.ending_sequence is not None:
            return shard.ending_sequence + 1
        segs = self._segments(stream, shard)
        seg = segs[-1]
        base = str(self._dir(stream) / shard.shard_id / _segment_name(seg.first))
        fd = self._fd(f"{base}.log")
        if fd is None:
            return seg.first
        index = self._index(base)
        start, seq = (index.offsets[-1], index.seqs[-1]) if index.seqs else (0, seg.first)
        size = os.fstat(fd).st_size
        scan = scan_committed(os.pread(fd, size - start, start), 0, seq)
        return scan.next_seq

    def position_at_timestamp(self, stream: str, shard: ShardMeta, timestamp_ms: int) -> int:
        segs = self._segments(stream, shard)
        for n, seg in enumerate(segs):
            if seg.last_ts is not None and seg.last_ts < timestamp_ms and n < len(segs) - 1:
                continue
            base = str(self._dir(stream) / shard.shard_id / _segment_name(seg.first))
            fd = self._fd(f"{base}.log")
            if fd is None:
                continue
            index = self._index(base)
            j = bisect_right(index.stamps, timestamp_ms - 1) - 1
            offset, seq = (index.offsets[j], index.seqs[j]) if j >= 0 else (0, seg.first)
            size = os.fstat(fd).st_size
            while offset < size:
                got = decode(os.pread(fd, min(size - offset, 1 << 20), offset), 0, seq, 1, timestamp_ms)
                if got.records:
                    return int(got.records[0].sequence_number)
                if got.end == 0:
                    break
                offset += got.end
                seq = got.next_seq
        return self.latest_position(stream, shard)

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None and self._syncer is not threading.current_thread():
            self._syncer.join(timeout=5)
        self._syncer = None
        for name, writer in list(self._writers.items()):
            with writer.mutex:
                self._drop_writer(name, writer)
                os.close(writer.lock_fd)
        for path in list(self._fds):
            self._forget(path)
