"""The serialisable state of one execution: frames, pending tasks and timers, counters.

`RunState.to_json()` gives plain JSON and `RunState.from_json()` restores it exactly, so the
durable engine can persist a run between any two steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from itertools import compress
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import add, attrgetter, is_, is_not
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
        # Not part of the state (see `to_text`): the JSON text of each frame as last encoded,
        # and the frames the stepper ran since then (None: not tracked yet).
        # The text of each field of a frame too ("key":value; empty for a Map/Parallel frame).
        self.encoded: dict[int, tuple[Frame, tuple[Any, ...], str, list[str]]] = {}
        self.touched: set[int] | None = None
        # The parts of the Map/Parallel frames' text kept between calls (see _WorkText).
        self.encoded_work: dict[int, _WorkText] = {}
        # The text of `status` and `context`, and the objects it was encoded from.
        self.encoded_head: tuple[list[Any], str] | None = None
        # The last fields of `_rest()` (output, error, ...) and their text (see _rest_text).
        self.encoded_rest: tuple[tuple[Any, ...], str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "context": self.context,
            "frames": [f.to_json() for f in self.frames.values()],
            **self._rest(),
        }

    def _rest(self) -> dict[str, Any]:
        """The fields of `to_json` after `frames`, in order."""
        return {
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

    def to_text(self) -> str:
        """`json.dumps(self.to_json(), separators=(",", ":"))`, the same text, re-encoding only
        the frames that may have changed since the last call.

        A Map with many iterations holds a frame per running iteration, and a transition
        changes only the few whose tasks ended: re-encoding all of them at every durable
        transition made a fan-out O(items) per Task. A frame's cached text is reused only when
        it is the same object, the stepper did not run it since (`touched`: in-place changes to
        its `vars`, `retry_counts`, ... happen only while it runs), it holds no Map/Parallel
        `work` (mutated in place as children end), and every field is the same object as when
        it was encoded. Otherwise the text of each of its fields is kept too: a frame that ran
        re-encodes only the scalar fields that are other objects, and those holding containers
        (see _changed_texts). The run state's own fields are reused the same way (_head and
        _rest_text).

        A frame that holds `work` is re-encoded at every call, but not all of it: its input
        (the Map's whole input) and the long lists of its `work` (the iterations' inputs, their
        results, ...) reuse the text of what did not change; see _WorkText.
        """
        cache = self.encoded
        touched = self.touched
        work_cache = self.encoded_work
        fresh: dict[int, tuple[Frame, tuple[Any, ...], str, list[str]]] = {}
        fresh_work: dict[int, _WorkText] = {}
        parts = []
        for fid, frame in self.frames.items():
            values = _frame_values(frame)
            hit = cache.get(fid)
            texts = _NO_TEXTS
            if frame.work is not None:
                parts_of = work_cache.get(fid) or _WorkText()
                fresh_work[fid] = parts_of
                text = parts_of.frame_text(values)
            elif hit is None or touched is None or hit[0] is not frame or hit[3] is _NO_TEXTS:
                # (_NO_TEXTS: it held `work` then, and has no field texts to reuse.)
                texts = list(map(add, _FIELD_KEYS, map(_value_text, values)))
                text = "{" + ",".join(texts) + "}"
            elif fid in touched or not all(map(is_, hit[1], values)):
                # A frame that ran changes a few scalar fields (state, phase, event ids, ...):
                # re-encode those, and every field that holds a container (_MUTABLE_AT: a task
                # may have been given the input object itself and changed it in place).
                texts = _changed_texts(_FIELD_KEYS, hit[3], hit[1], values, _MUTABLE_AT)
                text = "{" + ",".join(texts) + "}"
            else:
                text, texts = hit[2], hit[3]
            fresh[fid] = (frame, values, text, texts)
            parts.append(text)
        self.encoded = fresh
        self.encoded_work = fresh_work
        self.touched = set()
        return f'{self._head()[:-1]},"frames":[{",".join(parts)}],{self._rest_text()}'

    def _rest_text(self) -> str:
        """The text of `_rest()` without its opening brace. A step changes its counters and
        `tasks`, and `timers` changes in place: the fields after them (the run's end, the redrive
        point, set when a run ends or is redriven) are re-encoded only when one is another object."""
        counters = _counters(self)
        tasks, timers = self.tasks, self.timers
        ending = _ending(self)
        hit = self.encoded_rest
        if hit is None or not all(map(is_, hit[0], ending)):
            hit = self.encoded_rest = (ending, _dumps(dict(zip(_ENDING, ending, strict=True)))[1:])
        if all(map(is_, map(type, counters), _INTS)):
            # json encodes an int as int.__repr__, which %d is.
            return _COUNTERS % counters + (_dumps(tasks) if tasks else "{}") + ',"timers":' + (
                _dumps(timers) if timers else "{}") + "," + hit[1]
        return _dumps(self._rest())[1:]

    def _head(self) -> str:
        """The JSON of status and context, re-encoded only when one of them, or a value of one
        of the context's sections, is another object: the context (which holds the execution's
        whole input) is set at the start and changes only when a redrive bumps RedriveCount."""
        context = self.context
        key = [self.status, context]
        for section in context.values():
            if isinstance(section, dict):
                key += section.values()
        hit = self.encoded_head
        if hit is not None and len(hit[0]) == len(key) and all(map(is_, hit[0], key)):
            return hit[1]
        text = _dumps({"status": self.status, "context": context})
        self.encoded_head = (key, text)
        return text

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


_FRAME_FIELDS = tuple(k for k in Frame.__slots__ if k != "_scope")
_frame_values = attrgetter(*_FRAME_FIELDS)
# Where `input` and `work` are among a frame's fields.
_INPUT_AT = _FRAME_FIELDS.index("input")
_WORK_AT = _FRAME_FIELDS.index("work")
# Lists of a frame's `work` longer than this are encoded in chunks of this many items.
_CHUNK = 64


class _WorkText:
    """The text of one Map/Parallel frame, encoded field by field, reusing the text of parts
    that did not change: the frame's `input` while it is the same object, and each chunk of
    a long list of its `work` ("items", "results", "done", "order") while the chunk's items
    are the same objects.

    A Map of 1,000 items holds its iterations' inputs and results in its `work`; encoding them
    in full at every durable transition cost more than the transition's own work. The values
    are JSON values, which the interpreter never changes in place (a new value is a new
    object: ResultPath copies, results are stored by replacing a list item), so the same
    object has the same text.
    """

    __slots__ = ("input", "lists")

    def __init__(self) -> None:
        self.input: tuple[Any, str] | None = None
        # For each list of `work`: the chunks last encoded and their texts.
        self.lists: dict[str, tuple[list[list[Any]], list[str]]] = {}

    def frame_text(self, values: tuple[Any, ...]) -> str:
        parts = []
        for i, value in enumerate(values):
            if i == _INPUT_AT:
                hit = self.input
                if hit is None or hit[0] is not value:
                    hit = self.input = (value, _dumps(value))
                text = hit[1]
            elif i == _WORK_AT:
                text = self.work_text(value)
            else:
                text = _dumps(value)
            parts.append(_FIELD_KEYS[i] + text)
        return "{" + ",".join(parts) + "}"

    def work_text(self, work: Mapping[str, Any]) -> str:
        parts = []
        lists = {}
        for key, value in work.items():
            if type(value) is list and len(value) > _CHUNK:
                chunks, texts = self.lists.get(key) or ([], [])
                lists[key] = self.list_text(value, chunks, texts)
                text = "[" + ",".join(texts) + "]"
            else:
                text = _dumps(value)
            parts.append(encode_basestring_ascii(key) + ":" + text)
        self.lists = lists
        return "{" + ",".join(parts) + "}"

    @staticmethod
    def list_text(values: list[Any], chunks: list[list[Any]], texts: list[str]) -> tuple[list[list[Any]], list[str]]:
        """Bring `chunks`/`texts` up to date with `values` (re-encoding the chunks that
        changed) and return them."""
        count = 0
        for count, start in enumerate(range(0, len(values), _CHUNK), 1):
            chunk = values[start:start + _CHUNK]
            n = count - 1
            if n < len(chunks):
                old = chunks[n]
                if len(old) == len(chunk) and all(map(is_, old, chunk)):
                    continue
                chunks[n] = chunk
                texts[n] = _dumps(chunk)[1:-1]
            else:
                chunks.append(chunk)
                texts.append(_dumps(chunk)[1:-1])
        del chunks[count:], texts[count:]
        return chunks, texts


def _compact_encoder() -> Callable[[Any], str]:
    """`json.dumps(value, separators=(",", ":"))`, the same text, at half the cost for the small
    values a transition encodes many of: JSONEncoder.encode builds its C encoder at every
    call; this one is built once (without the circular-reference check: run states, history
    details and task inputs come from JSON and cannot be circular)."""
    encoder = json.JSONEncoder(separators=(",", ":"))
    if c_make_encoder is None:  # an interpreter without the _json accelerator
        return encoder.encode
    chunks = c_make_encoder(None, encoder.default, encode_basestring_ascii, None, ":", ",", False, False, True)

    def dumps(value: Any) -> str:
        return "".join(chunks(value, 0))

    return dumps


# Compact JSON text of a value (see _compact_encoder); the engine encodes with it too.
dumps_compact = _compact_encoder()
_dumps = dumps_compact
_FIELD_KEYS = tuple(encode_basestring_ascii(k) + ":" for k in _FRAME_FIELDS)
# The fields of a frame that hold containers, which may change in place while it runs:
# re-encoded whenever the frame is (`work`: see _WorkText). The others hold scalars.
_MUTABLE_AT = tuple(_FRAME_FIELDS.index(k) for k in ("input", "retry_counts", "vars", "result"))
_NO_TEXTS: list[str] = []
_REST_FIELDS = tuple(RunState()._rest())
# Field positions for _changed_texts (compress stops at the end of the shorter field list).
_INDEXES = range(len(_FRAME_FIELDS))
# The parts of _rest_text: the counters (ints), then `tasks` and `timers`, then the rest.
_COUNTERS = ",".join(f'"{k}":%d' for k in _REST_FIELDS[:5]) + ',"tasks":'
_counters = attrgetter(*_REST_FIELDS[:5])
_ENDING = _REST_FIELDS[7:]
_ending = attrgetter(*_ENDING)
_INTS = (int,) * 5
assert _REST_FIELDS[5:7] == ("tasks", "timers")


def _value_text(value: Any) -> str:
    """`_dumps(value)`, the same text, without the encoder's set-up for the scalars that make up
    most of a frame (ids, counters, state names): json encodes an int as int.__repr__, a str
    with encode_basestring_ascii."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    return _dumps(value)


def _changed_texts(keys: tuple[str, ...], texts: list[str], old: tuple[Any, ...], values: tuple[Any, ...],
                   mutable: tuple[int, ...]) -> list[str]:
    """`texts` ("key":value for each of `old`) brought up to date with `values`: the fields that
    are other objects than in `old`, and those at `mutable` (containers, which may have changed
    in place), are re-encoded; the others keep their text (the same immutable object, the same
    text)."""
    texts = texts.copy()
    changed = list(compress(_INDEXES, map(is_not, old, values)))
    changed += [i for i in mutable if values[i] is old[i]]
    for i in changed:
        value = values[i]
        kind = type(value)
        # _value_text, inlined (a step re-encodes a dozen fields this way), and the empty
        # containers (`vars`, `retry_counts`, `timers`) and None spelt out.
        if kind is str:
            texts[i] = keys[i] + encode_basestring_ascii(value)
        elif kind is int:
            texts[i] = keys[i] + int.__repr__(value)
        elif kind is dict and not value:
            texts[i] = keys[i] + "{}"
        elif kind is list and not value:
            texts[i] = keys[i] + "[]"
        elif value is None:
            texts[i] = keys[i] + "null"
        else:
            texts[i] = keys[i] + _dumps(value)
    return texts
