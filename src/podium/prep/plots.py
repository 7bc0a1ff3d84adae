"""Small inline SVG charts for the data-quality report (no plotting library needed, and
the HTML stays self-contained)."""

from __future__ import annotations

from html import escape


def bar_chart(
    labels: list[str], values: list[float], *, title: str, width: int = 420, height: int = 180,
    horizontal: bool = False,
) -> str:
    """A bar chart as an <svg> element; `horizontal` suits long category labels."""
    if not values:
        return f'<svg class="chart" width="{width}" height="40" role="img"><title>{escape(title)}</title><text x="4" y="20">no data</text></svg>'
    top = max(values) or 1.0
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>'
    ]
    if horizontal:
        label_w, pad = 130, 4
        bar_h = max(4.0, (height - 2 * pad) / len(values))
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            y = pad + i * bar_h
            w = (width - label_w - 60) * value / top
            parts.append(
                f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" font-size="11">{escape(label[:22])}</text>'
                f'<rect class="bar" x="{label_w}" y="{y + 1:.1f}" width="{w:.1f}" height="{bar_h - 2:.1f}" fill="#4c78a8">'
                f"<title>{escape(label)}: {value:g}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="11">{value:g}</text>'
            )
    else:
        pad_b, pad = 24, 4
        bar_w = (width - 2 * pad) / len(values)
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            h = (height - pad_b - pad) * value / top
            x = pad + i * bar_w
            parts.append(
                f'<rect class="bar" x="{x + 0.5:.1f}" y="{height - pad_b - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="#4c78a8"><title>{escape(label)}: {value:g}</title></rect>'
            )
        parts.append(
            f'<text x="{pad}" y="{height - 6}" font-size="11">{escape(labels[0])}</text>'
            f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">{escape(labels[-1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
