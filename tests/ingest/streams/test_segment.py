from __future__ import annotations

from podium.ingest.streams.segment import decode, encode_batch, scan_committed


def batch(first: int, n: int, ts: int = 100) -> bytes:
    items = [(f"k{first + i}", f"data-{first + i}".encode()) for i in range(n)]
    blob, _, _ = encode_batch(first, ts, items, 4096, 0)
    return blob


def test_round_trip() -> None:
    buf = batch(1, 3) + batch(4, 2, ts=200)
    got = decode(buf, 0, 1, 100, 0)
    assert [r.partition_key for r in got.records] == ["k1", "k2", "k3", "k4", "k5"]
    assert [int(r.sequence_number) for r in got.records] == [1, 2, 3, 4, 5]
    assert got.records[3].approximate_arrival_timestamp == 200
    assert got.records[0].data == b"data-1"
    assert got.end == len(buf) and got.next_seq == 6 and not got.more


def test_torn_tail_hides_the_whole_batch() -> None:
    first = batch(1, 3)
    second = batch(4, 3)
    for cut in (1, 10, len(second) // 2, len(second) - 1):
        buf = first + second[:cut]
        got = decode(buf, 0, 1, 100, 0)
        assert [int(r.sequence_number) for r in got.records] == [1, 2, 3]
        scan = scan_committed(buf, 0, 1)
        assert scan.end == len(first) and scan.next_seq == 4 and not scan.clean


def test_corrupt_byte_stops_at_the_last_good_batch() -> None:
    first, second = batch(1, 2), bytearray(batch(3, 2))
    second[-1] ^= 0xFF
    scan = scan_committed(first + bytes(second), 0, 1)
    assert scan.end == len(first)
    assert not scan.clean


def test_limit_keeps_whole_positions_and_reports_more() -> None:
    buf = batch(1, 5) + batch(6, 5)
    got = decode(buf, 0, 1, 3, 0)
    assert [int(r.sequence_number) for r in got.records] == [1, 2, 3]
    assert got.next_seq == 4 and got.more and got.next_ts == 100
    rest = decode(buf, got.end, got.next_seq, 100, 0)
    assert [int(r.sequence_number) for r in rest.records] == list(range(4, 11))


def test_from_seq_and_min_timestamp_skip() -> None:
    buf = batch(1, 3, ts=10) + batch(4, 3, ts=20)
    got = decode(buf, 0, 3, 100, 0)
    assert [int(r.sequence_number) for r in got.records] == [3, 4, 5, 6]
    got = decode(buf, 0, 1, 100, 15)
    assert [int(r.sequence_number) for r in got.records] == [4, 5, 6]
    assert got.next_seq == 7


def test_index_points_every_n_bytes() -> None:
    items = [("k", b"x" * 100)] * 50
    blob, points, since = encode_batch(1, 0, items, 1000, 1000)
    assert points[0] == (1, 0)
    assert all(b - a >= 1000 for (_, a), (_, b) in zip(points, points[1:], strict=False))
    assert since < 1000 + 200
    for seq, off in points:
        assert int(decode(blob, off, seq, 1, 0).records[0].sequence_number) == seq


def test_frame_layout_matches_the_documented_format() -> None:
    import struct
    from zlib import crc32

    blob, _, _ = encode_batch(7, 1234, [("kä", b"payload")], 4096, 0)
    key = "kä".encode()
    body = struct.pack("<QqBH", 7, 1234, 1, len(key)) + key + b"payload"
    assert blob == struct.pack("<II", len(body), crc32(body)) + body
