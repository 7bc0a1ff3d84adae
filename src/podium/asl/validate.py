"""Static validation of Amazon States Language definitions, reporting every problem at once.

    validate(doc) -> list[Problem]     # [] when the definition is valid; never raises
    check(doc) -> None                 # raises ValidationError(code="InvalidDefinition"),
                                       # `.details` = [problem.to_dict(), ...]

It rejects what AWS's ValidateStateMachineDefinition rejects: missing or unknown StartAt and
Next targets, unreachable states (AWS reports MISSING_TRANSITION_TARGET 'State "X" is not
reachable'), a state name used twice anywhere in the machine (AWS: DUPLICATE_STATE_NAME), a
States object without any terminal state (AWS's MISSING_END_STATE), fields a state type does
not allow (or unknown ones), missing required fields, wrong value types and documented
ranges, bad JSONPath / reference paths / intrinsic functions / JSONata, States.ALL misuse,
malformed choice rules, and fields of the other query language. Parallel branches and Map
processors are validated recursively; each problem carries the JSON pointer of its field.

Where AWS's behaviour is not documented the validator accepts: a definition AWS would reject
fails later at run time at worst, while a valid definition rejected here could never run.
So it does not check loops without an exit (only a scope with no terminal state at all),
HeartbeatSeconds against TimeoutSeconds, ItemReader/ResultWriter on an inline Map, or the
exact shape of timestamp literals; and an integer field accepts a JSON number with no
fraction (5.0), as JSON Schema's "integer" does.

Expression syntax is checked with the compilers the runtime uses (`compile_path`,
`compile_intrinsic`, `compile_jsonata`), so validate() and compile agree on what parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from podium.asl.intrinsics import compile_intrinsic, is_intrinsic
from podium.asl.jsonata import compile_jsonata, is_jsonata
from podium.asl.jsonpath import JsonPath, compile_path
from podium.asl.problems import Problem, child
from podium.asl.timestamps import parse_timestamp
from podium.errors import ValidationError

__all__ = ["Problem", "check", "validate"]

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

STATE_TYPES = ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")

# AWS's documented upper bound for TimeoutSeconds, HeartbeatSeconds, IntervalSeconds, ...
MAX_SECONDS = 99_999_999
MAX_DELAY_SECONDS = 31_622_400
MAX_STATE_NAME = 80
MAX_VARIABLE_NAME = 80
MAX_MAP_LABEL = 40

TOP_FIELDS = frozenset({"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"})
BRANCH_FIELDS = frozenset({"StartAt", "States", "Comment", "QueryLanguage"})
PROCESSOR_FIELDS = BRANCH_FIELDS | {"ProcessorConfig"}

_COMMON = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW = frozenset({"Next", "End"})
_IO = frozenset({"InputPath", "OutputPath"})
_ERRORS = frozenset({"Retry", "Catch"})

STATE_FIELDS: dict[str, frozenset[str]] = {
    "Pass": _COMMON | _FLOW | _IO | {"Parameters", "ResultPath", "Result", "Assign", "Output"},
    "Task": _COMMON | _FLOW | _IO | _ERRORS | {
        "Resource", "Parameters", "ResultSelector", "ResultPath", "TimeoutSeconds",
        "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials",
        "Assign", "Arguments", "Output",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default", "Assign", "Output"},
    "Wait": _COMMON | _FLOW | _IO | {
        "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign", "Output",
    },
    "Succeed": _COMMON | _IO | {"Output"},
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _FLOW | _IO | _ERRORS | {
        "Branches", "Parameters", "ResultSelector", "ResultPath", "Assign", "Arguments", "Output",
    },
    "Map": _COMMON | _FLOW | _IO | _ERRORS | {
        "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters",
        "ResultSelector", "ResultPath", "MaxConcurrency", "MaxConcurrencyPath",
        "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ItemReader", "ItemBatcher", "ResultWriter", "Label",
        "Assign", "Output",
    },
}
ALL_STATE_FIELDS = frozenset().union(*STATE_FIELDS.values())

# Fields that exist in only one query language (AWS collapses the five JSONPath I/O fields
# into Arguments + Output for JSONata, and every *Path field into a "{% %}" value).
JSONPATH_ONLY = frozenset({
    "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Result",
    "ItemsPath", "SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
    "ErrorPath", "CausePath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
})
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})

RETRIER_FIELDS = frozenset({
    "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
    "JitterStrategy", "Comment",
})
CATCHER_FIELDS = frozenset({"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"})

# Choice comparison operators by the JSON kind of their operand.
_COMPARISON_KINDS = {
    "String": "string", "Numeric": "number", "Timestamp": "timestamp",
}
_COMPARISON_SUFFIXES = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
OPERATORS: dict[str, str] = {}
for _prefix, _operand_kind in _COMPARISON_KINDS.items():
    for _suffix in _COMPARISON_SUFFIXES:
        OPERATORS[_prefix + _suffix] = _operand_kind
        OPERATORS[_prefix + _suffix + "Path"] = "path"
OPERATORS.update({
    "BooleanEquals": "boolean", "BooleanEqualsPath": "path", "StringMatches": "string",
    "IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
    "IsBoolean": "boolean", "IsTimestamp": "boolean",
})
_BOOLEAN_RULES = ("And", "Or", "Not")
JSONPATH_RULE_FIELDS = frozenset({"Variable", "Comment", *OPERATORS, *_BOOLEAN_RULES})
JSONATA_RULE_FIELDS = frozenset({"Condition", "Comment"})
_TOP_RULE_FIELDS = frozenset({"Next", "Assign", "Output"})

ITEM_READER_FIELDS = frozenset({"Resource", "Parameters", "Arguments", "ReaderConfig"})
RESULT_WRITER_FIELDS = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
ITEM_BATCHER_FIELDS = frozenset({
    "MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath", "BatchInput",
})


def validate(doc: Any) -> list[Problem]:
    """Every problem in `doc` (a definition dict, or its JSON/YAML text); [] when valid."""
    if isinstance(doc, (str, bytes)):
        from podium.asl.loader import load_definition_text

        try:
            doc = load_definition_text(doc if isinstance(doc, str) else doc.decode("utf-8", "replace"))
        except ValidationError as exc:
            return [Problem(exc.code, "", exc.message)]
    validator = _Validator()
    try:
        validator.machine(doc)
    except RecursionError:
        # Only a pathologically deep document gets here; AWS caps definitions at 1 MB.
        validator.add("INVALID_VALUE", "", "the definition is nested too deeply to check")
    return validator.problems


def check(doc: Any) -> None:
    """Raise ValidationError listing every problem (as dicts in `.details`) unless `doc` is valid."""
    problems = validate(doc)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ValidationError(
            f"Invalid state machine definition: {first.location or '/'}: {first.message}{more}",
            code="InvalidDefinition",
            details=[p.to_dict() for p in problems],
        )


def _is_int(value: Any) -> bool:
    # JSON Schema's "integer" (and Jackson's int coercion) accept 5.0; a bool is never one.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


class _Validator:
    """Walks one definition, collecting problems; states names are checked machine-wide."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # Every state name seen so far, machine-wide (branches and Map processors included),
        # with the location of its first use.
        self.names: dict[str, str] = {}

    def add(self, code: str, location: str, message: str) -> None:
        self.problems.append(Problem(code, location, message))

    # ------------------------------------------------------------------ scopes

    def machine(self, doc: Any) -> None:
        if not isinstance(doc, Mapping):
            self.add("INVALID_TYPE", "", f"a state machine definition must be a JSON object, not {_kind(doc)}")
            return
        ql = self.query_language(doc, "", JSONPATH)
        if "TimeoutSeconds" in doc:
            self.integer(doc["TimeoutSeconds"], "/TimeoutSeconds", "TimeoutSeconds", 1, MAX_SECONDS)
        if "Version" in doc and not isinstance(doc["Version"], str):
            self.add("INVALID_TYPE", "/Version", "Version must be a string such as \"1.0\"")
        self.program(doc, "", ql, TOP_FIELDS, "state machine")

    def program(self, doc: Any, loc: str, ql: str, fields: frozenset[str], what: str) -> None:
        """A StartAt + States scope: the top level, a Parallel branch or a Map processor."""
        if not isinstance(doc, Mapping):
            self.add("INVALID_TYPE", loc, f"a {what} must be a JSON object, not {_kind(doc)}")
            return
        self.known_fields(doc, loc, fields, what)
        if "Comment" in doc:
            self.string(doc["Comment"], child(loc, "Comment"), "Comment")
        states: Mapping[str, Any] = {}
        if "States" not in doc:
            self.add("MISSING_FIELD", loc, f"a {what} needs States (an object of named states)")
        elif not isinstance(doc["States"], Mapping):
            self.add("INVALID_TYPE", child(loc, "States"), f"States must be an object of named states, not {_kind(doc['States'])}")
        elif not doc["States"]:
            self.add("INVALID_VALUE", child(loc, "States"), "States must contain at least one state")
        else:
            states = doc["States"]
        start = doc.get("StartAt")
        if "StartAt" not in doc:
            self.add("MISSING_START_AT", loc, f"a {what} needs StartAt (the name of its first state)")
            start = None
        elif not isinstance(start, str):
            self.add("INVALID_TYPE", child(loc, "StartAt"), f"StartAt must be a state name (a string), not {_kind(start)}")
            start = None
        elif states and start not in states:
            self.add("UNKNOWN_START_AT", child(loc, "StartAt"), f"StartAt names '{start}', which is not a state in this States object")
            start = None

        edges: dict[str, list[str]] = {}
        ends: set[str] = set()
        for name, raw in states.items():
            sloc = child(loc, "States", name)
            self.state_name(str(name), sloc)
            targets, terminal = self.state(str(name), raw, sloc, ql)
            known = []
            for target, tloc in targets:
                if target in states:
                    known.append(target)
                else:
                    self.add("UNKNOWN_NEXT_TARGET", tloc, f"'{target}' is not a state in the same States object as '{name}'")
                    # Reported once; do not also call the state endless.
                    terminal = True
            edges[name] = known
            if terminal:
                ends.add(name)
        if start is not None:
            self.graph(states, start, edges, ends, loc)

    def graph(
        self, states: Mapping[str, Any], start: str, edges: dict[str, list[str]], ends: set[str], loc: str
    ) -> None:
        reachable = {start}
        todo = [start]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target not in reachable:
                    reachable.add(target)
                    todo.append(target)
        for name in states:
            if name not in reachable:
                self.add("UNREACHABLE_STATE", child(loc, "States", name), f"no transition leads to '{name}' from StartAt '{start}'")
        # AWS's MISSING_END_STATE: the scope needs some terminal state. A loop whose only exit
        # is an error, a timeout or a Catch is legal, so reachability of an end is not checked.
        if states and not ends:
            self.add(
                "MISSING_END_STATE",
                child(loc, "States"),
                "no state here ends the run: give one \"End\": true or add a Succeed or Fail state",
            )

    def state_name(self, name: str, loc: str) -> None:
        # The ASL specification: "state names MUST be unique within the scope of the whole
        # state machine", and AWS reports DUPLICATE_STATE_NAME. Within one States object the
        # loader already rejects duplicate keys; here a name reused in another Parallel branch,
        # Map processor or the top level is caught.
        first = self.names.setdefault(name, loc)
        if first != loc:
            self.add("DUPLICATE_STATE_NAME", loc, f"the state name '{name}' is already used at {first}; state names must be unique in the whole state machine, Parallel branches and Map processors included")
        if not name or len(name) > MAX_STATE_NAME:
            self.add("INVALID_STATE_NAME", loc, f"a state name must have 1 to {MAX_STATE_NAME} characters; '{name[:20]}…' has {len(name)}")

    def query_language(self, doc: Mapping[str, Any], loc: str, parent: str) -> str:
        if "QueryLanguage" not in doc:
            return parent
        value = doc["QueryLanguage"]
        qloc = child(loc, "QueryLanguage")
        if value not in QUERY_LANGUAGES:
            self.add("INVALID_VALUE", qloc, f"QueryLanguage must be \"JSONPath\" or \"JSONata\", not {value!r}")
            return parent
        if parent == JSONATA and value == JSONPATH:
            self.add("QUERY_LANGUAGE_MISMATCH", qloc, "a JSONPath state cannot be used in a JSONata state machine; set QueryLanguage per state only when the machine is JSONPath")
            return JSONATA
        return str(value)

    def known_fields(self, doc: Mapping[str, Any], loc: str, fields: Iterable[str], what: str) -> None:
        allowed = frozenset(fields)
        for key in doc:
            if key not in allowed:
                self.add("UNKNOWN_FIELD", child(loc, str(key)), f"'{key}' is not a field of a {what}")

    # ------------------------------------------------------------------ states

    def state(self, name: str, raw: Any, loc: str, parent_ql: str) -> tuple[list[tuple[str, str]], bool]:
        """Check one state; returns its transitions (target, location) and whether it may end."""
        if not isinstance(raw, Mapping):
            self.add("INVALID_TYPE", loc, f"a state must be a JSON object, not {_kind(raw)}")
            return [], True
        typ = raw.get("Type")
        if "Type" not in raw:
            self.add("MISSING_FIELD", loc, f"state '{name}' needs a Type: one of {', '.join(STATE_TYPES)}")
        elif typ not in STATE_TYPES:
            self.add("INVALID_VALUE", child(loc, "Type"), f"Type must be one of {', '.join(STATE_TYPES)}, not {typ!r}")
        if typ not in STATE_TYPES:
            # Without a type nothing else can be judged; follow Next to avoid false UNREACHABLE_STATE.
            nxt = raw.get("Next")
            return ([(nxt, child(loc, "Next"))] if isinstance(nxt, str) else []), True
        ql = self.query_language(raw, loc, parent_ql)
        fields = self.state_fields(raw, loc, typ, ql)
        if "Comment" in fields:
            self.string(fields["Comment"], child(loc, "Comment"), "Comment")
        targets: list[tuple[str, str]] = []
        terminal = self.flow(raw, fields, loc, typ, targets)
        self.io(fields, loc)
        if "Assign" in fields:
            self.assign(fields["Assign"], child(loc, "Assign"), ql)
        check_type: Callable[..., bool | None] = getattr(self, "type_" + typ.lower())
        if check_type(fields, loc, ql, targets):
            terminal = True
        if typ in ("Task", "Parallel", "Map"):
            if "Retry" in fields:
                self.retriers(fields["Retry"], child(loc, "Retry"))
            if "Catch" in fields:
                self.catchers(fields["Catch"], child(loc, "Catch"), ql, targets)
        return targets, terminal

    def state_fields(self, raw: Mapping[str, Any], loc: str, typ: str, ql: str) -> dict[str, Any]:
        """The fields worth checking further; reports unknown, illegal and wrong-language ones."""
        allowed = STATE_FIELDS[typ]
        fields: dict[str, Any] = {}
        for key, value in raw.items():
            floc = child(loc, str(key))
            if key not in ALL_STATE_FIELDS:
                self.add("UNKNOWN_FIELD", floc, f"'{key}' is not a field of any state type")
            elif key not in allowed:
                self.add("ILLEGAL_FIELD", floc, f"a {typ} state cannot have {key}")
            elif ql == JSONATA and key in JSONPATH_ONLY:
                self.add("QUERY_LANGUAGE_MISMATCH", floc, f"{key} is a JSONPath field; this state uses JSONata ({_jsonata_hint(key)})")
            elif ql == JSONPATH and key in JSONATA_ONLY:
                self.add("QUERY_LANGUAGE_MISMATCH", floc, f"{key} is a JSONata field; set \"QueryLanguage\": \"JSONata\" to use it")
            else:
                fields[key] = value
        return fields

    def flow(
        self, raw: Mapping[str, Any], fields: Mapping[str, Any], loc: str, typ: str,
        targets: list[tuple[str, str]],
    ) -> bool:
        if typ in ("Succeed", "Fail"):
            return True
        if typ == "Choice":
            return False
        nxt, end = fields.get("Next"), fields.get("End")
        if "End" in fields and not isinstance(end, bool):
            self.add("INVALID_TYPE", child(loc, "End"), f"End must be true or false, not {_kind(end)}")
            end = None
        if "Next" in fields:
            if not isinstance(nxt, str):
                self.add("INVALID_TYPE", child(loc, "Next"), f"Next must be a state name (a string), not {_kind(nxt)}")
            elif end is True:
                self.add("ILLEGAL_FIELD", child(loc, "End"), "a state has either Next or \"End\": true, not both")
            else:
                targets.append((nxt, child(loc, "Next")))
                return False
            return True
        if end is True:
            return True
        if "End" in fields and end is None:
            return True  # already reported as a wrong type
        self.add("MISSING_FIELD", loc, f"a {typ} state needs Next (the following state) or \"End\": true")
        return True

    def io(self, fields: Mapping[str, Any], loc: str) -> None:
        for key in ("InputPath", "OutputPath"):
            if key in fields and fields[key] is not None:
                self.path(fields[key], child(loc, key), key)
        if "Parameters" in fields:
            self.jsonpath_template(fields["Parameters"], child(loc, "Parameters"))
        if "ResultSelector" in fields:
            self.jsonpath_template(fields["ResultSelector"], child(loc, "ResultSelector"))
        if "ResultPath" in fields and fields["ResultPath"] is not None:
            self.reference_path(fields["ResultPath"], child(loc, "ResultPath"), "ResultPath", input_only=True)
        for key in ("Arguments", "Output"):
            if key in fields:
                self.jsonata_template(fields[key], child(loc, key))

    # ------------------------------------------------------------------ per type

    def type_pass(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        return None

    def type_succeed(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        return None

    def type_task(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        if "Resource" not in f:
            self.add("MISSING_FIELD", loc, "a Task state needs Resource (the ARN or name of what to run)")
        elif not isinstance(f["Resource"], str):
            self.add("INVALID_TYPE", child(loc, "Resource"), f"Resource must be a string, not {_kind(f['Resource'])}")
        elif not f["Resource"].strip():
            self.add("INVALID_VALUE", child(loc, "Resource"), "Resource must not be empty")
        # AWS says HeartbeatSeconds "should" be smaller than TimeoutSeconds; not enforced here.
        self.seconds_field(f, loc, ql, "TimeoutSeconds")
        self.seconds_field(f, loc, ql, "HeartbeatSeconds")
        if "Credentials" in f and not isinstance(f["Credentials"], Mapping):
            self.add("INVALID_TYPE", child(loc, "Credentials"), "Credentials must be an object")

    def seconds_field(self, f: Mapping[str, Any], loc: str, ql: str, key: str) -> int | None:
        """TimeoutSeconds / HeartbeatSeconds and their Path forms; returns a literal value."""
        path_key = key + "Path"
        if key in f and path_key in f:
            self.add("ILLEGAL_FIELD", child(loc, path_key), f"{key} and {path_key} are exclusive")
        if path_key in f:
            self.reference_path(f[path_key], child(loc, path_key), path_key)
        if key not in f:
            return None
        value = f[key]
        if ql == JSONATA and isinstance(value, str):
            self.jsonata(value, child(loc, key), key, literal="a positive integer")
            return None
        if self.integer(value, child(loc, key), key, 1, MAX_SECONDS):
            return int(value)
        return None

    def type_choice(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        if "Choices" not in f:
            self.add("MISSING_FIELD", loc, "a Choice state needs Choices (a non-empty list of rules)")
        elif not isinstance(f["Choices"], list):
            self.add("INVALID_TYPE", child(loc, "Choices"), f"Choices must be a list of rules, not {_kind(f['Choices'])}")
        elif not f["Choices"]:
            self.add("INVALID_VALUE", child(loc, "Choices"), "Choices must contain at least one rule")
        else:
            for i, rule in enumerate(f["Choices"]):
                self.choice_rule(rule, child(loc, "Choices", i), ql, True, targets)
        if "Default" in f:
            if isinstance(f["Default"], str):
                targets.append((f["Default"], child(loc, "Default")))
            else:
                self.add("INVALID_TYPE", child(loc, "Default"), f"Default must be a state name (a string), not {_kind(f['Default'])}")

    def choice_rule(self, rule: Any, loc: str, ql: str, top: bool, targets: list[tuple[str, str]]) -> None:
        if not isinstance(rule, Mapping):
            self.add("INVALID_TYPE", loc, f"a choice rule must be an object, not {_kind(rule)}")
            return
        own = JSONATA_RULE_FIELDS if ql == JSONATA else JSONPATH_RULE_FIELDS
        other = JSONPATH_RULE_FIELDS if ql == JSONATA else JSONATA_RULE_FIELDS | {"Output"}
        fields: dict[str, Any] = {}
        for key, value in rule.items():
            kloc = child(loc, str(key))
            if key in own or (top and key in _TOP_RULE_FIELDS and not (key == "Output" and ql == JSONPATH)):
                fields[key] = value
            elif key in other and key != "Comment":
                lang = "JSONata" if ql == JSONPATH else "JSONPath"
                self.add("QUERY_LANGUAGE_MISMATCH", kloc, f"{key} belongs to {lang} choice rules; this state uses {ql}")
            elif key in _TOP_RULE_FIELDS:
                self.add("ILLEGAL_FIELD", kloc, f"only top-level choice rules have {key}; remove it from nested rules inside And/Or/Not")
            else:
                self.add("UNKNOWN_FIELD", kloc, f"'{key}' is not a field of a choice rule")
        if "Comment" in fields:
            self.string(fields["Comment"], child(loc, "Comment"), "Comment")
        if top:
            if "Next" not in fields:
                self.add("MISSING_FIELD", loc, "a top-level choice rule needs Next (the state to go to when it matches)")
            elif not isinstance(fields["Next"], str):
                self.add("INVALID_TYPE", child(loc, "Next"), f"Next must be a state name (a string), not {_kind(fields['Next'])}")
            else:
                targets.append((fields["Next"], child(loc, "Next")))
            if "Assign" in fields:
                self.assign(fields["Assign"], child(loc, "Assign"), ql)
            if "Output" in fields:
                self.jsonata_template(fields["Output"], child(loc, "Output"))
        if ql == JSONATA:
            if "Condition" not in fields:
                self.add("MISSING_FIELD", loc, "a JSONata choice rule needs Condition (\"{% ... %}\" or a boolean)")
            elif not isinstance(fields["Condition"], bool):
                self.jsonata(fields["Condition"], child(loc, "Condition"), "Condition", literal="a boolean", required=True)
            return
        self.jsonpath_rule(fields, loc, ql, targets)

    def jsonpath_rule(self, fields: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        booleans = [k for k in _BOOLEAN_RULES if k in fields]
        operators = [k for k in fields if k in OPERATORS]
        found = booleans + operators
        if not found:
            self.add("INVALID_CHOICE_RULE", loc, "a choice rule needs one comparison operator (StringEquals, NumericLessThan, IsPresent, ...) or And/Or/Not")
        elif len(found) > 1:
            self.add("INVALID_CHOICE_RULE", loc, f"a choice rule has exactly one comparison operator or And/Or/Not; found {', '.join(found)}")
        if booleans:
            if "Variable" in fields:
                self.add("ILLEGAL_FIELD", child(loc, "Variable"), f"a rule with {booleans[0]} cannot have a Variable; put Variable in the nested rules")
            for key in booleans:
                value = fields[key]
                kloc = child(loc, key)
                if key == "Not":
                    if isinstance(value, Mapping):
                        self.choice_rule(value, kloc, ql, False, targets)
                    else:
                        self.add("INVALID_TYPE", kloc, f"Not must be one choice rule (an object), not {_kind(value)}")
                elif not isinstance(value, list):
                    self.add("INVALID_TYPE", kloc, f"{key} must be a non-empty list of choice rules, not {_kind(value)}")
                elif not value:
                    self.add("INVALID_VALUE", kloc, f"{key} must contain at least one choice rule")
                else:
                    for i, sub in enumerate(value):
                        self.choice_rule(sub, child(kloc, i), ql, False, targets)
            return
        if not operators:
            return
        if "Variable" not in fields:
            self.add("MISSING_FIELD", loc, f"{operators[0]} needs a Variable (a path such as \"$.value\")")
        else:
            self.path(fields["Variable"], child(loc, "Variable"), "Variable")
        for op in operators:
            self.operand(op, fields[op], child(loc, op))

    def operand(self, op: str, value: Any, loc: str) -> None:
        kind = OPERATORS[op]
        if kind == "path":
            self.path(value, loc, op)
        elif kind == "string" and not isinstance(value, str):
            self.add("INVALID_TYPE", loc, f"{op} takes a string, not {_kind(value)}")
        elif kind == "number" and not _is_number(value):
            self.add("INVALID_TYPE", loc, f"{op} takes a number, not {_kind(value)}")
        elif kind == "boolean" and not isinstance(value, bool):
            self.add("INVALID_TYPE", loc, f"{op} takes true or false, not {_kind(value)}")
        elif kind == "timestamp":
            if not isinstance(value, str):
                self.add("INVALID_TYPE", loc, f"{op} takes a timestamp string, not {_kind(value)}")
            elif parse_timestamp(value) is None:
                self.add("INVALID_VALUE", loc, f"{op}: {value!r} is not a timestamp; use RFC 3339 such as 2016-08-18T17:33:00Z")

    def type_wait(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in f]
        if not given:
            self.add("MISSING_FIELD", loc, "a Wait state needs one of Seconds, Timestamp, SecondsPath or TimestampPath")
        for extra in given[1:]:
            self.add("ILLEGAL_FIELD", child(loc, extra), f"a Wait state has only one of Seconds, Timestamp, SecondsPath, TimestampPath; {given[0]} is already set")
        if "Seconds" in f:
            value = f["Seconds"]
            if ql == JSONATA and isinstance(value, str):
                self.jsonata(value, child(loc, "Seconds"), "Seconds", literal="a non-negative integer")
            else:
                self.integer(value, child(loc, "Seconds"), "Seconds", 0, MAX_SECONDS)
        if "Timestamp" in f:
            value = f["Timestamp"]
            tloc = child(loc, "Timestamp")
            if ql == JSONATA and is_jsonata(value):
                self.jsonata(value, tloc, "Timestamp")
            elif not isinstance(value, str):
                self.add("INVALID_TYPE", tloc, f"Timestamp must be a string such as 2016-03-14T01:59:00Z, not {_kind(value)}")
            elif parse_timestamp(value) is None:
                self.add("INVALID_VALUE", tloc, f"{value!r} is not a timestamp; use RFC 3339 such as 2016-03-14T01:59:00Z")
        for key in ("SecondsPath", "TimestampPath"):
            if key in f:
                self.reference_path(f[key], child(loc, key), key)

    def type_fail(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        for key in ("Error", "Cause"):
            path_key = key + "Path"
            if key in f and path_key in f:
                self.add("ILLEGAL_FIELD", child(loc, path_key), f"{key} and {path_key} are exclusive")
            if key in f:
                value = f[key]
                if ql == JSONATA and isinstance(value, str) and is_jsonata(value):
                    self.jsonata(value, child(loc, key), key)
                else:
                    self.string(value, child(loc, key), key)
            if path_key in f:
                value = f[path_key]
                ploc = child(loc, path_key)
                if isinstance(value, str) and is_intrinsic(value):
                    self.intrinsic(value, ploc)
                else:
                    self.path(value, ploc, path_key)

    def type_parallel(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        if "Branches" not in f:
            self.add("MISSING_FIELD", loc, "a Parallel state needs Branches (a list of {StartAt, States})")
            return
        branches = f["Branches"]
        bloc = child(loc, "Branches")
        if not isinstance(branches, list):
            self.add("INVALID_TYPE", bloc, f"Branches must be a list of {{StartAt, States}} objects, not {_kind(branches)}")
        elif not branches:
            self.add("INVALID_VALUE", bloc, "Branches must contain at least one branch")
        else:
            for i, branch in enumerate(branches):
                self.nested(branch, child(bloc, i), ql, BRANCH_FIELDS, "Parallel branch")

    def nested(self, doc: Any, loc: str, ql: str, fields: frozenset[str], what: str) -> None:
        inner = self.query_language(doc, loc, ql) if isinstance(doc, Mapping) else ql
        self.program(doc, loc, inner, fields, what)

    def type_map(self, f: Mapping[str, Any], loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        if "ItemProcessor" in f and "Iterator" in f:
            self.add("ILLEGAL_FIELD", child(loc, "Iterator"), "use ItemProcessor or the older Iterator, not both")
        key = "ItemProcessor" if "ItemProcessor" in f else "Iterator" if "Iterator" in f else None
        if key is not None:
            # AWS accepts ProcessorConfig in the legacy Iterator too.
            proc = f[key]
            ploc = child(loc, key)
            if isinstance(proc, Mapping) and "ProcessorConfig" in proc:
                self.processor_config(proc["ProcessorConfig"], child(ploc, "ProcessorConfig"))
            self.nested(proc, ploc, ql, PROCESSOR_FIELDS, f"Map {key}")
        else:
            self.add("MISSING_FIELD", loc, "a Map state needs ItemProcessor (a {StartAt, States} run for each item)")
        if "ItemSelector" in f and "Parameters" in f:
            self.add("ILLEGAL_FIELD", child(loc, "Parameters"), "use ItemSelector or the older Parameters, not both")
        if "ItemSelector" in f:
            if ql == JSONATA:
                self.jsonata_template(f["ItemSelector"], child(loc, "ItemSelector"))
            else:
                self.jsonpath_template(f["ItemSelector"], child(loc, "ItemSelector"))
        if "ItemsPath" in f:
            self.reference_path(f["ItemsPath"], child(loc, "ItemsPath"), "ItemsPath")
        if "Items" in f:
            value = f["Items"]
            iloc = child(loc, "Items")
            if isinstance(value, list):
                self.jsonata_template(value, iloc)
            elif isinstance(value, str):
                self.jsonata(value, iloc, "Items", literal="an array")
            else:
                self.add("INVALID_TYPE", iloc, f"Items must be an array or a JSONata expression, not {_kind(value)}")
        self.map_number(f, loc, ql, "MaxConcurrency", integer=True, low=0, high=None)
        self.map_number(f, loc, ql, "ToleratedFailureCount", integer=True, low=0, high=None)
        self.map_number(f, loc, ql, "ToleratedFailurePercentage", integer=False, low=0, high=100)
        for key, allowed in (("ItemReader", ITEM_READER_FIELDS), ("ResultWriter", RESULT_WRITER_FIELDS)):
            if key in f:
                kloc = child(loc, key)
                # Not rejected on an inline Map: AWS's rule for that is undocumented.
                self.reader_writer(f[key], kloc, ql, key, allowed, require_resource=key == "ItemReader")
        if "ItemBatcher" in f:
            self.item_batcher(f["ItemBatcher"], child(loc, "ItemBatcher"), ql)
        if "Label" in f:
            label = f["Label"]
            lloc = child(loc, "Label")
            if not isinstance(label, str):
                self.add("INVALID_TYPE", lloc, f"Label must be a string, not {_kind(label)}")
            elif not label or len(label) > MAX_MAP_LABEL:
                self.add("INVALID_VALUE", lloc, f"Label must have 1 to {MAX_MAP_LABEL} characters")

    def processor_config(self, config: Any, loc: str) -> bool:
        """Checks ProcessorConfig; True when the Map is distributed."""
        if not isinstance(config, Mapping):
            self.add("INVALID_TYPE", loc, f"ProcessorConfig must be an object, not {_kind(config)}")
            return False
        self.known_fields(config, loc, ("Mode", "ExecutionType"), "ProcessorConfig")
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            self.add("INVALID_VALUE", child(loc, "Mode"), f"Mode must be INLINE or DISTRIBUTED, not {mode!r}")
            return False
        if "ExecutionType" in config and config["ExecutionType"] not in ("STANDARD", "EXPRESS"):
            self.add("INVALID_VALUE", child(loc, "ExecutionType"), f"ExecutionType must be STANDARD or EXPRESS, not {config['ExecutionType']!r}")
        if mode == "DISTRIBUTED" and "ExecutionType" not in config:
            self.add("MISSING_FIELD", loc, "a DISTRIBUTED Map needs ExecutionType (STANDARD or EXPRESS)")
        return bool(mode == "DISTRIBUTED")

    def map_number(self, f: Mapping[str, Any], loc: str, ql: str, key: str, *, integer: bool, low: float, high: float | None) -> None:
        path_key = key + "Path"
        if key in f and path_key in f:
            self.add("ILLEGAL_FIELD", child(loc, path_key), f"{key} and {path_key} are exclusive")
        if path_key in f:
            self.reference_path(f[path_key], child(loc, path_key), path_key)
        if key not in f:
            return
        value = f[key]
        kloc = child(loc, key)
        if ql == JSONATA and isinstance(value, str):
            self.jsonata(value, kloc, key, literal="a number")
        elif integer:
            self.integer(value, kloc, key, int(low), None if high is None else int(high))
        elif not _is_number(value):
            self.add("INVALID_TYPE", kloc, f"{key} must be a number, not {_kind(value)}")
        elif value < low or (high is not None and value > high):
            self.add("INVALID_VALUE", kloc, f"{key} must be between {low:g} and {high:g}, not {value}")

    def reader_writer(self, value: Any, loc: str, ql: str, key: str, allowed: frozenset[str], *, require_resource: bool) -> None:
        if not isinstance(value, Mapping):
            self.add("INVALID_TYPE", loc, f"{key} must be an object, not {_kind(value)}")
            return
        self.known_fields(value, loc, allowed, key)
        if "Resource" in value:
            if not isinstance(value["Resource"], str):
                self.add("INVALID_TYPE", child(loc, "Resource"), "Resource must be a string")
        elif require_resource:
            self.add("MISSING_FIELD", loc, f"{key} needs Resource")
        if "Parameters" in value:
            if ql == JSONATA:
                self.add("QUERY_LANGUAGE_MISMATCH", child(loc, "Parameters"), "Parameters is a JSONPath field; this state uses JSONata (use Arguments)")
            else:
                self.jsonpath_template(value["Parameters"], child(loc, "Parameters"))
        if "Arguments" in value:
            if ql == JSONPATH:
                self.add("QUERY_LANGUAGE_MISMATCH", child(loc, "Arguments"), "Arguments is a JSONata field; set \"QueryLanguage\": \"JSONata\" to use it")
            else:
                self.jsonata_template(value["Arguments"], child(loc, "Arguments"))
        for config_key in ("ReaderConfig", "WriterConfig"):
            if config_key in value and not isinstance(value[config_key], Mapping):
                self.add("INVALID_TYPE", child(loc, config_key), f"{config_key} must be an object")

    def item_batcher(self, value: Any, loc: str, ql: str) -> None:
        if not isinstance(value, Mapping):
            self.add("INVALID_TYPE", loc, f"ItemBatcher must be an object, not {_kind(value)}")
            return
        self.known_fields(value, loc, ITEM_BATCHER_FIELDS, "ItemBatcher")
        for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            path_key = key + "Path"
            if key in value and path_key in value:
                self.add("ILLEGAL_FIELD", child(loc, path_key), f"{key} and {path_key} are exclusive")
            if key in value:
                if ql == JSONATA and isinstance(value[key], str):
                    self.jsonata(value[key], child(loc, key), key, literal="a positive integer")
                else:
                    self.integer(value[key], child(loc, key), key, 1, None)
            if path_key in value:
                if ql == JSONATA:
                    self.add("QUERY_LANGUAGE_MISMATCH", child(loc, path_key), f"{path_key} is a JSONPath field; this state uses JSONata")
                else:
                    self.reference_path(value[path_key], child(loc, path_key), path_key)
        if "BatchInput" in value:
            if ql == JSONATA:
                self.jsonata_template(value["BatchInput"], child(loc, "BatchInput"))
            else:
                self.jsonpath_template(value["BatchInput"], child(loc, "BatchInput"))

    # ------------------------------------------------------------------ Retry / Catch

    def error_equals(self, holder: Mapping[str, Any], loc: str, what: str) -> list[str]:
        if "ErrorEquals" not in holder:
            self.add("MISSING_FIELD", loc, f"a {what} needs ErrorEquals (a non-empty list of error names)")
            return []
        value = holder["ErrorEquals"]
        eloc = child(loc, "ErrorEquals")
        if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
            self.add("INVALID_TYPE", eloc, "ErrorEquals must be a list of error names (strings)")
            return []
        if not value:
            self.add("INVALID_VALUE", eloc, "ErrorEquals must name at least one error")
        if "States.ALL" in value and len(value) > 1:
            self.add("STATES_ALL_NOT_ALONE", eloc, "States.ALL must appear alone in its ErrorEquals")
        return list(value)

    def retriers(self, value: Any, loc: str) -> None:
        if not isinstance(value, list):
            self.add("INVALID_TYPE", loc, f"Retry must be a list of retriers, not {_kind(value)}")
            return
        for i, retrier in enumerate(value):
            rloc = child(loc, i)
            if not isinstance(retrier, Mapping):
                self.add("INVALID_TYPE", rloc, f"a retrier must be an object, not {_kind(retrier)}")
                continue
            self.known_fields(retrier, rloc, RETRIER_FIELDS, "retrier")
            errors = self.error_equals(retrier, rloc, "retrier")
            if "States.ALL" in errors and i != len(value) - 1:
                self.add("STATES_ALL_NOT_LAST", rloc, "a retrier with States.ALL must be the last one")
            if "IntervalSeconds" in retrier:
                self.integer(retrier["IntervalSeconds"], child(rloc, "IntervalSeconds"), "IntervalSeconds", 0, MAX_SECONDS)
            if "MaxAttempts" in retrier:
                self.integer(retrier["MaxAttempts"], child(rloc, "MaxAttempts"), "MaxAttempts", 0, MAX_SECONDS)
            if "MaxDelaySeconds" in retrier:
                self.integer(retrier["MaxDelaySeconds"], child(rloc, "MaxDelaySeconds"), "MaxDelaySeconds", 1, MAX_DELAY_SECONDS)
            if "BackoffRate" in retrier:
                rate = retrier["BackoffRate"]
                bloc = child(rloc, "BackoffRate")
                if not _is_number(rate):
                    self.add("INVALID_TYPE", bloc, f"BackoffRate must be a number, not {_kind(rate)}")
                elif rate < 1.0:
                    self.add("INVALID_VALUE", bloc, f"BackoffRate must be at least 1.0, not {rate}")
            if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in ("FULL", "NONE"):
                self.add("INVALID_VALUE", child(rloc, "JitterStrategy"), f"JitterStrategy must be FULL or NONE, not {retrier['JitterStrategy']!r}")
            if "Comment" in retrier:
                self.string(retrier["Comment"], child(rloc, "Comment"), "Comment")

    def catchers(self, value: Any, loc: str, ql: str, targets: list[tuple[str, str]]) -> None:
        if not isinstance(value, list):
            self.add("INVALID_TYPE", loc, f"Catch must be a list of catchers, not {_kind(value)}")
            return
        for i, catcher in enumerate(value):
            cloc = child(loc, i)
            if not isinstance(catcher, Mapping):
                self.add("INVALID_TYPE", cloc, f"a catcher must be an object, not {_kind(catcher)}")
                continue
            self.known_fields(catcher, cloc, CATCHER_FIELDS, "catcher")
            errors = self.error_equals(catcher, cloc, "catcher")
            if "States.ALL" in errors and i != len(value) - 1:
                self.add("STATES_ALL_NOT_LAST", cloc, "a catcher with States.ALL must be the last one")
            if "Next" not in catcher:
                self.add("MISSING_FIELD", cloc, "a catcher needs Next (the state that handles the error)")
            elif not isinstance(catcher["Next"], str):
                self.add("INVALID_TYPE", child(cloc, "Next"), f"Next must be a state name (a string), not {_kind(catcher['Next'])}")
            else:
                targets.append((catcher["Next"], child(cloc, "Next")))
            if "ResultPath" in catcher:
                rloc = child(cloc, "ResultPath")
                if ql == JSONATA:
                    self.add("QUERY_LANGUAGE_MISMATCH", rloc, "ResultPath is a JSONPath field; this state uses JSONata (use Output)")
                elif catcher["ResultPath"] is not None:
                    self.reference_path(catcher["ResultPath"], rloc, "ResultPath", input_only=True)
            if "Output" in catcher:
                oloc = child(cloc, "Output")
                if ql == JSONPATH:
                    self.add("QUERY_LANGUAGE_MISMATCH", oloc, "Output is a JSONata field; set \"QueryLanguage\": \"JSONata\" to use it")
                else:
                    self.jsonata_template(catcher["Output"], oloc)
            if "Assign" in catcher:
                self.assign(catcher["Assign"], child(cloc, "Assign"), ql)
            if "Comment" in catcher:
                self.string(catcher["Comment"], child(cloc, "Comment"), "Comment")

    # ------------------------------------------------------------------ values

    def string(self, value: Any, loc: str, key: str) -> None:
        if not isinstance(value, str):
            self.add("INVALID_TYPE", loc, f"{key} must be a string, not {_kind(value)}")

    def integer(self, value: Any, loc: str, key: str, low: int, high: int | None) -> bool:
        if not _is_int(value):
            self.add("INVALID_TYPE", loc, f"{key} must be an integer, not {_kind(value)}")
            return False
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            self.add("INVALID_VALUE", loc, f"{key} must be {bound}, not {value}")
            return False
        return True

    def path(self, value: Any, loc: str, key: str) -> JsonPath | None:
        if not isinstance(value, str):
            self.add("INVALID_TYPE", loc, f"{key} must be a JSONPath string such as \"$.field\", not {_kind(value)}")
            return None
        try:
            return compile_path(value)
        except ValidationError as exc:
            self.add("INVALID_JSONPATH", loc, f"{key}: {exc.message}")
        except Exception as exc:  # a crash in the parser must still read as a bad path
            self.add("INVALID_JSONPATH", loc, f"{key}: cannot parse {value!r} ({type(exc).__name__})")
        return None

    def reference_path(self, value: Any, loc: str, key: str, *, input_only: bool = False) -> None:
        path = self.path(value, loc, key)
        if path is None:
            return
        if not path.definite:
            self.add("INVALID_REFERENCE_PATH", loc, f"{key} must name a single node: {value!r} uses wildcards, filters, slices, lists or '..'")
        elif input_only and path.root != "$":
            self.add("INVALID_REFERENCE_PATH", loc, f"{key} must start with '$' (the state's data); {value!r} reads the context object or a variable")

    def intrinsic(self, value: str, loc: str) -> None:
        try:
            compile_intrinsic(value)
        except ValidationError as exc:
            self.add("INVALID_INTRINSIC", loc, exc.message)
        except Exception as exc:
            self.add("INVALID_INTRINSIC", loc, f"cannot parse {value!r} ({type(exc).__name__})")

    def jsonata(self, value: Any, loc: str, key: str, *, literal: str | None = None, required: bool = False) -> None:
        """A value that must be a "{% %}" expression (a literal of the named kind is checked by the caller)."""
        if not isinstance(value, str) or not is_jsonata(value):
            if literal is None and not required:
                return
            expected = "a JSONata expression \"{% ... %}\"" + (f" or {literal}" if literal else "")
            self.add("INVALID_TYPE", loc, f"{key} must be {expected}, not {value!r}"[:300])
            return
        try:
            compile_jsonata(value, key)
        except ValidationError as exc:
            self.add("INVALID_JSONATA", loc, exc.message)
        except Exception as exc:
            self.add("INVALID_JSONATA", loc, f"cannot parse {value!r} ({type(exc).__name__})")

    def jsonata_template(self, value: Any, loc: str) -> None:
        """Any JSON in which strings may be "{% %}" expressions (Arguments, Output, Assign, ...)."""
        if isinstance(value, str):
            if is_jsonata(value):
                self.jsonata(value, loc, loc.rsplit("/", 1)[-1] or "value")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.jsonata_template(item, child(loc, str(key)))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_template(item, child(loc, i))

    def jsonpath_template(self, value: Any, loc: str) -> None:
        """A payload template: keys ending in '.$' hold a path or an intrinsic function."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                kloc = child(loc, str(key))
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(item, str):
                        self.add("INVALID_TYPE", kloc, f"the value of '{key}' must be a path or an intrinsic function (a string), not {_kind(item)}")
                    elif is_intrinsic(item):
                        self.intrinsic(item, kloc)
                    else:
                        self.path(item, kloc, key)
                else:
                    self.jsonpath_template(item, kloc)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonpath_template(item, child(loc, i))

    def assign(self, value: Any, loc: str, ql: str) -> None:
        if not isinstance(value, Mapping):
            self.add("INVALID_TYPE", loc, f"Assign must be an object of variable names to values, not {_kind(value)}")
            return
        for key in value:
            name = str(key)
            if ql == JSONPATH and name.endswith(".$"):
                name = name[:-2]
            if not name.isidentifier() or len(name) > MAX_VARIABLE_NAME:
                self.add(
                    "INVALID_VARIABLE_NAME", child(loc, str(key)),
                    f"'{name}' is not a variable name: use letters, digits and '_', not starting with a digit, at most {MAX_VARIABLE_NAME} characters",
                )
        if ql == JSONATA:
            self.jsonata_template(value, loc)
        else:
            self.jsonpath_template(value, loc)


def _jsonata_hint(key: str) -> str:
    hints = {
        "InputPath": "use Arguments/Output with $states.input",
        "Parameters": "use Arguments",
        "ResultSelector": "use Output with $states.result",
        "ResultPath": "use Output or Assign",
        "OutputPath": "use Output",
        "Result": "use Output",
        "ItemsPath": "use Items",
    }
    if key in hints:
        return hints[key]
    if key.endswith("Path"):
        return f"give {key[:-4]} a \"{{% ... %}}\" expression instead"
    return "see docs/workflows.md"
