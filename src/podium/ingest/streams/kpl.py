"""KPL aggregation: many user records packed into one stream record, and unpacking them.

The Kinesis Producer Library packs small user records into one Kinesis record to save
per-record cost; the Kinesis Client Library unpacks them. An aggregated record's data is

    magic (F3 89 9A C2) | protobuf AggregatedRecord | MD5 of the protobuf bytes (16 bytes)

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;   // key = 1, value = 2 (ignored here)
    }

The protobuf wire format is decoded by hand below (varints and length-delimited fields
only; other wire types are skipped), so no protobuf runtime is needed. As the KCL does, data
that starts with the magic bytes but whose checksum or protobuf is wrong is handed out as
an ordinary record rather than dropped, and sub-records whose hash key falls outside the
shard's range (possible after a reshard) are filtered out when the range is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import md5
from typing import NamedTuple

from podium.errors import ValidationError
from podium.ingest.streams.model import Record
from podium.ingest.streams.routing import hash_key, parse_explicit_hash_key

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16


class UserRecord(NamedTuple):
    """One user record unpacked from an aggregated record. The first four fields are those
    of `Record`; all sub-records share their aggregate's sequence number and are told apart
    by `sub_sequence_number` (0, 1, ...)."""

    sequence_number: str
    approximate_arrival_timestamp: int
    data: bytes
    partition_key: str
    sub_sequence_number: int
    explicit_hash_key: str | None = None


class KplFormatError(ValidationError):
    """Bytes that claim to be a KPL aggregated record but are not a valid one."""

    code = "InvalidKplRecord"


def is_aggregated(data: bytes) -> bool:
    return data.startswith(MAGIC) and len(data) >= len(MAGIC) + DIGEST_SIZE


# -- protobuf wire format ------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise KplFormatError("truncated varint in a KPL aggregated record")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise KplFormatError("varint longer than 64 bits in a KPL aggregated record")


def _fields(buf: bytes) -> Iterable[tuple[int, int | bytes]]:
    """(field number, value) of a message: an int for varints, bytes for length-delimited."""
    pos, size = 0, len(buf)
    while pos < size:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > size:
                raise KplFormatError("a field runs past the end of a KPL aggregated record")
            yield number, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise KplFormatError(f"unsupported protobuf wire type {wire} in a KPL aggregated record")
        if pos > size:
            raise KplFormatError("a field runs past the end of a KPL aggregated record")


def _put_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_bytes(out: bytearray, number: int, value: bytes) -> None:
    _put_varint(out, number << 3 | 2)
    _put_varint(out, len(value))
    out += value


# -- decoding ------------------------------------------------------------------------------


def decode_aggregated(data: bytes) -> list[tuple[str, str | None, bytes]]:
    """(partition key, explicit hash key or None, data) of each user record, in order.
    Raises KplFormatError if `data` is not a valid aggregated record."""
    if not is_aggregated(data):
        raise KplFormatError("data does not start with the KPL magic bytes F3 89 9A C2")
    body, digest = data[len(MAGIC) : -DIGEST_SIZE], data[-DIGEST_SIZE:]
    if md5(body).digest() != digest:
        raise KplFormatError("the MD5 checksum of the KPL aggregated record does not match")
    keys: list[str] = []
    hash_keys: list[str] = []
    raw_records: list[bytes] = []
    try:
        for number, value in _fields(body):
            if number == 1 and isinstance(value, bytes):
                keys.append(value.decode("utf-8"))
            elif number == 2 and isinstance(value, bytes):
                hash_keys.append(value.decode("utf-8"))
            elif number == 3 and isinstance(value, bytes):
                raw_records.append(value)
    except UnicodeDecodeError:
        raise KplFormatError("a key table entry of a KPL aggregated record is not UTF-8") from None
    out = []
    for n, raw in enumerate(raw_records):
        key_index: int | None = None
        hash_index: int | None = None
        payload: bytes | None = None
        for number, value in _fields(raw):
            if number == 1 and isinstance(value, int):
                key_index = value
            elif number == 2 and isinstance(value, int):
                hash_index = value
            elif number == 3 and isinstance(value, bytes):
                payload = value
        if key_index is None or payload is None:
            raise KplFormatError(f"user record {n} of a KPL aggregated record lacks its key or data")
        if key_index >= len(keys) or (hash_index is not None and hash_index >= len(hash_keys)):
            raise KplFormatError(f"user record {n} of a KPL aggregated record points past a key table")
        out.append((keys[key_index], hash_keys[hash_index] if hash_index is not None else None, payload))
    return out


class Deaggregated(NamedTuple):
    records: list[Record | UserRecord]
    invalid: int  # aggregated-looking records that did not decode (passed through whole)
    outside: int  # sub-records left out because their hash key is outside the shard's range


def deaggregate(records: Sequence[Record], hash_range: tuple[int, int] | None = None) -> Deaggregated:
    """Unpack the aggregated records among `records`; others pass through unchanged.

    Records with the magic bytes that do not decode are passed through whole, as the KCL
    does. With `hash_range`, sub-records whose hash key lies outside it are left out (and
    counted), as the KCL does: after a reshard they belong to another shard's consumer.
    """
    if not any(r.data.startswith(MAGIC) for r in records):
        return Deaggregated(list(records), 0, 0)
    out: list[Record | UserRecord] = []
    invalid = outside = 0
    for record in records:
        if not is_aggregated(record.data):
            out.append(record)
            continue
        try:
            users = decode_aggregated(record.data)
        except KplFormatError:
            invalid += 1
            out.append(record)
            continue
        for sub, (key, explicit, payload) in enumerate(users):
            if hash_range is not None:
                try:
                    value = parse_explicit_hash_key(explicit) if explicit is not None else hash_key(key)
                except ValidationError:
                    value = hash_key(key)
                if not hash_range[0] <= value <= hash_range[1]:
                    outside += 1
                    continue
            out.append(
                UserRecord(
                    record.sequence_number,
                    record.approximate_arrival_timestamp,
                    payload,
                    key,
                    sub,
                    explicit,
                )
            )
    return Deaggregated(out, invalid, outside)


# -- encoding ------------------------------------------------------------------------------


def aggregate(
    user_records: Sequence[tuple[bytes, str] | tuple[bytes, str, str | None]],
) -> tuple[bytes, str, str]:
    """Pack (data, partition key[, explicit hash key]) user records into one record.

    Returns (data, partition key, explicit hash key) to put: the first user record's key,
    and an explicit hash key that routes the aggregate where that first record would go.
    Like the KPL, put only records that route to the same shard into one aggregate.
    """
    if not user_records:
        raise ValidationError("aggregate needs at least one user record", code="InvalidArgument")
    keys: dict[str, int] = {}
    hash_keys: dict[str, int] = {}
    packed = bytearray()
    for entry in user_records:
        payload, key = entry[0], entry[1]
        explicit = entry[2] if len(entry) > 2 else None
        record = bytearray()
        _put_varint(record, 1 << 3)
        _put_varint(record, keys.setdefault(key, len(keys)))
        if explicit is not None:
            _put_varint(record, 2 << 3)
            _put_varint(record, hash_keys.setdefault(explicit, len(hash_keys)))
        _put_bytes(record, 3, bytes(payload))
        _put_bytes(packed, 3, bytes(record))
    body = bytearray()
    for key in keys:
        _put_bytes(body, 1, key.encode("utf-8"))
    for explicit in hash_keys:
        _put_bytes(body, 2, explicit.encode("utf-8"))
    body += packed
    first = user_records[0]
    first_explicit = first[2] if len(first) > 2 else None
    route = first_explicit if first_explicit is not None else str(hash_key(first[1]))
    parse_explicit_hash_key(route)  # a clear error for a malformed explicit hash key
    return MAGIC + bytes(body) + md5(body).digest(), first[1], route
