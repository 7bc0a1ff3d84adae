"""Benchmark podium.triggers: event-pattern matching throughput and scheduler fire lateness.

1. 1,000 rules against 100,000 events. Podium: patterns compiled once and indexed by
   source/detail-type (PatternSet). Baselines measured in the same run: a naive matcher
   that walks the pattern JSON for every (event, rule) pair, and Podium's compiled
   matchers without the index. Evaluations/s counts (event, rule) pairs decided.
2. 1,000 one-time schedules due in the same second, fired through Scheduler.tick on
   SQLite; lateness = when the target ran - when the fire was due. Baseline: the same
   scheduler claiming and delivering one fire per transaction (batch size 1).

Run: .venv/bin/python bench/triggers_bench.py [--events N] [--rules N] [--schedules N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from podium.store import open_store
from podium.triggers.patterns import PatternSet, compile_pattern
from podium.triggers.scheduler import Scheduler
from podium.triggers.targets import CallableTarget, TargetRegistry

SOURCES = [f"podium.app{i}" for i in range(100)]
DETAIL_TYPES = [f"Type {i}" for i in range(20)]
STATES = ["running", "stopped", "pending", "failed", "succeeded"]


def make_rules(count: int, rng: random.Random) -> list[dict[str, Any]]:
    rules = []
    for i in range(count):
        detail: dict[str, Any] = {}
        kind = i % 6
        if kind == 0:
            detail["state"] = [rng.choice(STATES)]
        elif kind == 1:
            detail["key"] = [{"prefix": f"data/{rng.randrange(10)}"}]
        elif kind == 2:
            detail["size"] = [{"numeric": [">", rng.randrange(500), "<=", 1000]}]
        elif kind == 3:
            detail["state"] = [{"anything-but": ["stopped", "failed"]}]
        elif kind == 4:
            detail["owner"] = [{"exists": False}]
        else:
            detail["$or"] = [{"state": ["failed"]}, {"size": [{"numeric": [">=", 900]}]}]
        pattern: dict[str, Any] = {"detail": detail}
        if i % 20 != 19:  # 5% of rules name no source and cannot be indexed
            pattern["source"] = [rng.choice(SOURCES)]
        if i % 3 == 0:
            pattern["detail-type"] = [rng.choice(DETAIL_TYPES)]
        rules.append(pattern)
    return rules


def make_events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for i in range(count):
        detail: dict[str, Any] = {
            "state": rng.choice(STATES),
            "key": f"data/{rng.randrange(10)}/{i}.parquet",
            "size": rng.randrange(1000),
        }
        if i % 4 == 0:
            detail["owner"] = "team-a"
        events.append(
            {
                "version": "0",
                "id": str(i),
                "source": rng.choice(SOURCES),
                "detail-type": rng.choice(DETAIL_TYPES),
                "time": "2026-01-05T10:00:00Z",
                "detail": detail,
            }
        )
    return events


# ---- the naive baseline: interpret the pattern JSON on every evaluation -------------


def naive_matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(naive_matches(alt, event) for alt in expected):
                return False
            continue
        value = event.get(key) if isinstance(event, dict) else None
        present = isinstance(event, dict) and key in event
        if isinstance(expected, dict):
            if not naive_matches(expected, value if isinstance(value, dict) else {}):
                return False
            continue
        leaves = [] if not present or isinstance(value, dict) else (value if isinstance(value, list) else [value])
        if not any(naive_value(allowed, leaves) for allowed in expected):
            return False
    return True


def naive_value(allowed: Any, leaves: list[Any]) -> bool:
    if not isinstance(allowed, dict):
        return any(v == allowed and type(v) is type(allowed) for v in leaves)
    (op, arg), = allowed.items()
    if op == "exists":
        return bool(leaves) == arg
    if op == "prefix":
        return any(isinstance(v, str) and v.startswith(arg) for v in leaves)
    if op == "anything-but":
        excluded = arg if isinstance(arg, list) else [arg]
        return any(v not in excluded for v in leaves)
    if op == "numeric":
        ops = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "=": float.__eq__}
        return any(
            isinstance(v, int | float)
            and all(ops[arg[i]](float(v), float(arg[i + 1])) for i in range(0, len(arg), 2))
            for v in leaves
        )
    raise ValueError(op)


def bench_patterns(rule_count: int, event_count: int, sample: int) -> None:
    rng = random.Random(7)
    rules = make_rules(rule_count, rng)
    events = make_events(event_count, rng)
    print(f"== pattern matching: {rule_count:,} rules x {event_count:,} events")

    started = time.perf_counter()
    compiled = [compile_pattern(rule) for rule in rules]
    patterns = PatternSet(list(enumerate(compiled)))
    compile_seconds = time.perf_counter() - started

    started, cpu = time.perf_counter(), time.process_time()
    indexed_matches = sum(len(patterns.matching(event)) for event in events)
    indexed_seconds = time.perf_counter() - started
    indexed_cpu = time.process_time() - cpu
    indexed_rate = rule_count * event_count / indexed_seconds

    subset = events[:sample]
    started = time.perf_counter()
    compiled_matches = [sum(p.matches(e) for p in compiled) for e in subset]
    compiled_seconds = time.perf_counter() - started
    compiled_rate = rule_count * len(subset) / compiled_seconds

    started, cpu = time.perf_counter(), time.process_time()
    naive_counts = [sum(naive_matches(r, e) for r in rules) for e in subset]
    naive_seconds = time.perf_counter() - started
    naive_cpu = time.process_time() - cpu
    naive_rate = rule_count * len(subset) / naive_seconds

    indexed_subset = [len(patterns.matching(e)) for e in subset]
    assert naive_counts == compiled_matches == indexed_subset, "matchers disagree"

    print(f"compile + index {rule_count:,} rules: {compile_seconds * 1000:.1f} ms")
    print(f"baseline naive dict walk ({len(subset):,} events, all rules): {naive_rate:,.0f} evaluations/s")
    print(f"podium compiled, no index ({len(subset):,} events, all rules): {compiled_rate:,.0f} evaluations/s"
          f"  ratio {compiled_rate / naive_rate:.1f}x")
    print(f"podium compiled + index (all {event_count:,} events): {indexed_rate:,.0f} evaluations/s"
          f"  ({event_count / indexed_seconds:,.0f} events/s, {indexed_matches:,} matches)"
          f"  ratio {indexed_rate / naive_rate:.1f}x")
    indexed_cpu_rate = rule_count * event_count / max(indexed_cpu, 1e-9)
    naive_cpu_rate = rule_count * len(subset) / max(naive_cpu, 1e-9)
    print(f"per CPU-second: podium indexed {indexed_cpu_rate:,.0f}, naive {naive_cpu_rate:,.0f} evaluations"
          f"  ratio {indexed_cpu_rate / naive_cpu_rate:.1f}x")


def bench_lateness(count: int, batch_size: int, label: str) -> list[float]:
    with tempfile.TemporaryDirectory() as home:
        store = open_store(f"sqlite:///{Path(home) / 'podium.db'}")
        ran: list[float] = []
        targets = TargetRegistry()
        targets.register("noop", CallableTarget(lambda payload: ran.append(time.time())))
        scheduler = Scheduler(store, targets, batch_size=batch_size)
        scheduler.dispatcher.batch_size = batch_size
        # Leave time to create them all (a loaded machine is slow); `now=` anchors each
        # schedule before its fire so that a slow creation cannot make it miss it.
        created = datetime.now(UTC).replace(microsecond=0)
        due = created + timedelta(seconds=3 + 0.003 * count)
        expression = f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})"
        for i in range(count):
            scheduler.create(f"s{i:04d}", expression, "noop", now=created)
        if time.time() >= due.timestamp():
            print(f"  warning: creating {count:,} schedules took past their due time; lateness is inflated")
        while time.time() < due.timestamp():
            time.sleep(0.001)
        fired = 0
        cpu = time.process_time()
        while fired < count:  # one tick normally takes them all
            fired += scheduler.tick().fires
        cpu = time.process_time() - cpu
        lateness = sorted(f.lateness_seconds for f in scheduler.fires(limit=count) if f.lateness_seconds is not None)
        store.dispose()
    assert len(lateness) == count == len(ran)
    p50 = statistics.median(lateness)
    p99 = lateness[int(0.99 * (count - 1))]
    print(f"{label}: {count:,} fires, lateness p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {lateness[-1] * 1000:.0f} ms; CPU {cpu * 1000:.0f} ms ({cpu / count * 1e6:.0f} us per fire)")
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000, help="events for the unindexed runs")
    parser.add_argument("--schedules", type=int, default=1000)
    args = parser.parse_args()
    bench_patterns(args.rules, args.events, args.sample)
    print(f"== scheduler lateness: {args.schedules:,} schedules due in the same second (SQLite)")
    baseline = bench_lateness(args.schedules, 1, "baseline one fire per transaction")
    podium = bench_lateness(args.schedules, 500, "podium batched claim + delivery")
    p99_base = baseline[int(0.99 * (len(baseline) - 1))]
    p99_podium = podium[int(0.99 * (len(podium) - 1))]
    print(f"p99 lateness ratio (baseline / podium): {p99_base / max(p99_podium, 1e-9):.1f}x  (target p99 <= 1 s)")


if __name__ == "__main__":
    main()
