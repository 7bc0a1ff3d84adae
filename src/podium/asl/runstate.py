"""The serialisable state of one execution: frames, pending tasks and timers, counters.

`RunState.to_json()` gives plain JSON and `RunState.from_json()` restores it exactly, so the
durable engine can persist a run between any two steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A frame's phase within its current state.
ENTER, EXEC, TASK, TASK_DONE, WAITING, CHILDREN = range(6)

# What a state handler returns: the frame moved on (keep running it), it waits for a task or
# timer, or it ended (succeeded, failed or was caught elsewhere).
CONTINUE, BLOCK, DONE = 0, 1, 2


class Frame:
    """One thread of control: the top level, a Parallel branch or a Map iteration."""

    __slots__ = (
        "fid", "parent", "index", "program", "state", "input", "phase", "entered_event",
        "entered_time", "last_event", "retry_counts", "retry_count", "vars", "task",
        "result", "work", "isolated", "log", "events", "size", "_scope",
    )

    def __init__(self, fid: int, parent: int | None, index: int, program: int, state: str, data: Any) -> None:
        self.fid = fid
        self.parent = parent
        self.index = index
        self.program = program
        self.state = state
        self.input = data
        self.phase = ENTER
        self.entered_event = 0
        self.entered_time = ""
        self.last_event = 0
        self.retry_counts: list[int] = []
        self.retry_count = 0
        self.vars: dict[str, Any] = {}
        self.task: str | None = None
        self.result: Any = None
        self.work: dict[str, Any] | None = None
        self.isolated = False
        # A distributed Map iteration is a child execution with its own history: `log` is the
        # fid of the frame that numbers its events (-1: the execution's own history), and
        # `events` that frame's last event id.
        self.log = -1
        self.events = 0
        # An upper bound of the UTF-8 JSON size of `input` (-1: not known yet); see podium.asl.limits.
        self.size = -1
        self._scope: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if k != "_scope"}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Frame:
        f = cls(doc["fid"], doc["parent"], doc["index"], doc["program"], doc["state"], doc["input"])
        for k in cls.__slots__:
            if k != "_scope":
                # `size` is absent from run states saved before it existed.
                setattr(f, k, doc[k] if k != "size" else doc.get(k, -1))
        if f.work is not None and "children" in f.work:
            # JSON object keys are strings; child results are keyed by index.
            f.work["children"] = {int(k): v for k, v in f.work["children"].items()}
        return f


class RunState:
    """Everything needed to continue an execution; JSON-serialisable."""

    def __init__(self) -> None:
        self.status = "NOT_STARTED"
        self.context: dict[str, Any] = {}
        self.frames: dict[int, Frame] = {}
        self.next_frame = 0
        self.next_event_id = 1
        self.next_task = 0
        self.seed = 0
        self.jitter_draws = 0
        self.tasks: dict[str, int] = {}
        self.timers: dict[str, list[Any]] = {}
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None
        # Where a redrive resumes: the top-level state that was running when the run ended
        # unsuccessfully, its input and the top-level variables.
        self.redrive: dict[str, Any] | None = None
        # After a redrive into a Map/Parallel: {"fid", "done": {index: result}} of the
        # branches/iterations that keep their results instead of running again.
        self.resume: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "context": self.context,
            "frames": [f.to_json() for f in self.frames.values()],
            "next_frame": self.next_frame,
            "next_event_id": self.next_event_id,
            "next_task": self.next_task,
            "seed": self.seed,
            "jitter_draws": self.jitter_draws,
            "tasks": dict(self.tasks),
            "timers": dict(self.timers),
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "redrive": self.redrive,
            "resume": self.resume,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunState:
        rs = cls()
        for k in ("status", "context", "next_frame", "next_event_id", "next_task", "seed",
                  "jitter_draws", "output", "error", "cause", "redrive"):
            setattr(rs, k, doc[k])
        rs.resume = doc.get("resume")
        rs.frames = {f["fid"]: Frame.from_json(f) for f in doc["frames"]}
        rs.tasks = dict(doc["tasks"])
        rs.timers = {k: list(v) for k, v in doc["timers"].items()}
        return rs
