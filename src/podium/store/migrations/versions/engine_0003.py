"""Engine: an execution's history as a row per transition instead of a row per event.

A transition writes the events its step produced together: a Task state's end and the next
one's start are five events (TaskSucceeded, TaskStateExited, TaskStateEntered, TaskScheduled,
TaskStarted), which were five rows, each inserted into the table and into its primary key.
Now they are one row: `id` is the first event's id, `last_id` the last's (the ids between are
consecutive), `timestamp` theirs (one step, one moment) and `events` a JSON array of
`[previous_event_id, type, details]`, in id order.

Existing rows become rows of one event each (the text of their details is kept as it is);
the downgrade turns every row back into one row per event.

Revision ID: engine_0003
Revises: engine_0002
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "engine_0003"
down_revision = "engine_0002"
branch_labels = None
depends_on = None


def _set_aside_history() -> None:
    op.rename_table("engine_history", "engine_history_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there
        op.execute("ALTER TABLE engine_history_old RENAME CONSTRAINT pk_engine_history TO pk_engine_history_old")


def _history_table(*columns: "sa.Column[Any]") -> None:
    op.create_table(
        "engine_history",
        sa.Column("execution_id", sa.BigInteger, nullable=False),
        sa.Column("id", sa.Integer, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("execution_id", "id", name="pk_engine_history"),
    )


def upgrade() -> None:
    _set_aside_history()
    _history_table(
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Text, nullable=False),
    )
    # Event types are names ([A-Za-z]+) and details are JSON text: concatenation builds the
    # array without decoding anything (both dialects have ||; PostgreSQL casts the integer).
    op.execute(
        "INSERT INTO engine_history (execution_id, id, last_id, timestamp, events)"
        " SELECT execution_id, id, id, timestamp,"
        " '[[' || CAST(previous_event_id AS VARCHAR(20)) || ',\"' || type || '\",' || details || ']]'"
        " FROM engine_history_old"
    )
    op.drop_table("engine_history_old")


def downgrade() -> None:
    _set_aside_history()
    _history_table(
        sa.Column("previous_event_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    connection = op.get_bind()
    old = sa.table(
        "engine_history_old", sa.column("execution_id"), sa.column("id"), sa.column("timestamp"),
        sa.column("events"),
    )
    new = sa.table(
        "engine_history", sa.column("execution_id"), sa.column("id"), sa.column("previous_event_id"),
        sa.column("type"), sa.column("timestamp"), sa.column("details"),
    )
    rows = []
    # Row by row in key order, written in batches: a long history need not fit in memory.
    result = connection.execute(
        sa.select(old).order_by(old.c.execution_id, old.c.id).execution_options(yield_per=1000)
    )
    for row in result:
        for offset, (previous, kind, details) in enumerate(json.loads(row.events)):
            rows.append({
                "execution_id": row.execution_id, "id": row.id + offset, "previous_event_id": previous,
                "type": kind, "timestamp": row.timestamp,
                "details": json.dumps(details, separators=(",", ":")),
            })
        if len(rows) >= 1000:
            connection.execute(sa.insert(new), rows)
            rows = []
    if rows:
        connection.execute(sa.insert(new), rows)
    op.drop_table("engine_history_old")
