"""Small charts drawn on the server as inline SVG (no JavaScript needed)."""

from __future__ import annotations

from markupsafe import Markup, escape


def works_per_year_svg(
    counts: list[tuple[int, int]], *, width: int = 640, height: int = 140
) -> Markup:
    """A bar per year from the first to the last year with works (gaps drawn as empty)."""
    if not counts:
        return Markup("")
    first, last = counts[0][0], counts[-1][0]
    by_year = dict(counts)
    years = list(range(first, last + 1))
    peak = max(by_year.values())
    left, bottom, top = 28, 20, 8
    plot_w, plot_h = width - left - 4, height - bottom - top
    bar_w = plot_w / len(years)
    total = sum(by_year.values())
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="wpy-title wpy-desc" preserveAspectRatio="xMinYMin meet">',
        '<title id="wpy-title">Works per year</title>',
        f'<desc id="wpy-desc">{total} works from {first} to {last}; '
        f"most in one year: {peak}.</desc>",
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, year in enumerate(years):
        n = by_year.get(year, 0)
        h = plot_h * n / peak if peak else 0
        x = left + i * bar_w
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}">'
            f"<title>{year}: {n} work{'s' if n != 1 else ''}</title></rect>"
        )
    step = max(1, len(years) // 8)
    for i, year in enumerate(years):
        if i % step == 0 or year == last:
            x = left + i * bar_w + bar_w / 2
            parts.append(
                f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle" class="axis">'
                f"{escape(str(year))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
