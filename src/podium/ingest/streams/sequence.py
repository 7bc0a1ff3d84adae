"""Sequence numbers: per-shard integers shown as fixed-width decimal strings.

Like Kinesis's, they are decimal digit strings that sort as text in the same order as
numbers, so callers may compare them either way. Each backend chooses what the integer
means (the embedded log counts records; Redis packs its stream id `ms-seq` as
`ms * 10**20 + seq`), but within one shard a later record always has a larger number, and
a child shard's numbers start above its parents'.
"""

from __future__ import annotations

from podium.errors import ValidationError

WIDTH = 40


def format_sequence(value: int) -> str:
    """The string form of a sequence number."""
    return f"{value:040d}"


def parse_sequence(text: str) -> int:
    """The integer behind a sequence number string; a clear error for anything else."""
    if not isinstance(text, str) or not text.isdigit() or len(text) > WIDTH:
        raise ValidationError(
            f"'{text}' is not a sequence number: expected up to {WIDTH} decimal digits "
            "as returned by put_record or get_records",
            code="InvalidArgument",
        )
    return int(text)

