"""The embedded log's record framing: encode batches, decode and verify them.

One record on disk:

    u32 body length | u32 CRC32 of body | body
    body = u64 sequence | i64 arrival ms | u8 flags | u16 key length | key | data

All little-endian. The last record of every appended batch carries FLAG_BATCH_END; readers
and recovery accept records only up to the last batch end they can see, which makes a
batch all-or-nothing even when a write was torn by a crash or is still being copied.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple
from zlib import crc32

from podium.ingest.streams.model import Record

FRAME = struct.Struct("<II")
HEAD = struct.Struct("<QqBH")
FRAME_HEAD = struct.Struct("<IIQqBH")  # both, unpacked in one call when reading
FRAME_SIZE = FRAME.size
HEAD_SIZE = HEAD.size
OVERHEAD = FRAME_SIZE + HEAD_SIZE
FLAG_BATCH_END = 1
MAX_BODY = 64 * 1024 * 1024  # any larger length field is garbage, not a record


def encode_batch(
    first_seq: int,
    ts: int,
    items: Sequence[tuple[str, bytes | bytearray | memoryview]],
    index_every: int,
    since_index: int,
) -> tuple[bytes, list[tuple[int, int]], int]:
    """Frame (partition key, data) records with consecutive sequence numbers from `first_seq`.

    Returns the bytes to append, index points (sequence, offset within these bytes) every
    `index_every` bytes, and the byte count since the last index point.
    """
    parts: list[bytes] = []
    append = parts.append
    pack_head = HEAD.pack
    pack_frame = FRAME.pack
    points: list[tuple[int, int]] = []
    offset = 0
    last = first_seq + len(items) - 1
    seq = first_seq
    for key, data in items:
        if since_index >= index_every:
            points.append((seq, offset))
            since_index = 0
        raw_key = key.encode()
        # One concatenation and one CRC per record: cheaper than CRC-chaining the pieces.
        body = pack_head(seq, ts, FLAG_BATCH_END if seq == last else 0, len(raw_key)) + raw_key + data
        body_len = len(body)
        append(pack_frame(body_len, crc32(body)))
        append(body)
        size = FRAME_SIZE + body_len
        offset += size
        since_index += size
        seq += 1
    return b"".join(parts), points, since_index


class Scan(NamedTuple):
    """Where a scan of committed records stopped."""

    end: int  # offset just after the last committed record
    next_seq: int  # sequence after the last committed record (or the start value)
    last_ts: int | None  # arrival time of the last committed record
    clean: bool  # True if the bytes after `end` are exhausted, False if they were invalid/torn


def scan_committed(buf: bytes | memoryview, start: int, next_seq: int) -> Scan:
    """Walk frames from `start`, verifying CRCs, up to the last complete batch."""
    view = memoryview(buf)
    size = len(view)
    pos = start
    committed = Scan(start, next_seq, None, True)
    unpack_frame = FRAME.unpack_from
    unpack_head = HEAD.unpack_from
    while pos + FRAME_SIZE <= size:
        body_len, crc = unpack_frame(view, pos)
        end = pos + FRAME_SIZE + body_len
        if body_len < HEAD_SIZE or body_len > MAX_BODY or end > size:
            return committed._replace(clean=False)
        if crc32(view[pos + FRAME_SIZE : end]) != crc:
            return committed._replace(clean=False)
        seq, ts, flags, _ = unpack_head(view, pos + FRAME_SIZE)
        if flags & FLAG_BATCH_END:
            committed = Scan(end, seq + 1, ts, True)
        pos = end
    if pos != committed.end or pos != size:
        return committed._replace(clean=False)
    return committed


class Decoded(NamedTuple):
    records: list[Record]
    end: int  # offset after the last record consumed (returned or skipped)
    next_seq: int  # position after the last record consumed
    more: bool  # committed records remain in `buf` after `end`
    next_ts: int | None  # arrival time of the first remaining record, if known


def decode(
    buf: bytes, start: int, from_seq: int, limit: int, min_ts: int
) -> Decoded:
    """Records with sequence >= `from_seq`, at most `limit`, from committed batches only."""
    view = memoryview(buf)
    size = len(buf)
    pos = start
    out: list[Record] = []
    append = out.append
    # tuple.__new__ builds the same Record without the Python-level NamedTuple __new__ call:
    # this loop is the read hot path.
    new = tuple.__new__
    record = Record
    unpack = FRAME_HEAD.unpack_from
    # State at the last batch end we saw: (records kept, offset, next sequence).
    kept, committed_end, committed_seq = 0, start, from_seq
    full = False
    pending_end = start
    pending_seq = from_seq
    next_ts: int | None = None
    while pos + OVERHEAD <= size:
        body_len, crc, seq, ts, flags, key_len = unpack(buf, pos)
        body = pos + FRAME_SIZE
        end = body + body_len
        if body_len < HEAD_SIZE or body_len > MAX_BODY or end > size or crc32(view[body:end]) != crc:
            break
        if full:
            if next_ts is None:
                next_ts = ts
        elif seq >= from_seq:
            if len(out) < limit:
                if ts >= min_ts:
                    key_at = body + HEAD_SIZE
                    data_at = key_at + key_len
                    # Inlined format_sequence.
                    append(new(record, (f"{seq:040d}", ts, buf[data_at:end], buf[key_at:data_at].decode())))
                pending_end, pending_seq = end, seq + 1
            else:
                full = True
                next_ts = ts
        else:
            pending_end, pending_seq = end, from_seq
        if flags & FLAG_BATCH_END:
            kept, committed_end, committed_seq = len(out), pending_end, pending_seq
            if full:
                break
        pos = end
    if len(out) > kept:
        del out[kept:]
    return Decoded(out, committed_end, committed_seq, full, next_ts)
