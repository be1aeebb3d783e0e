#!/usr/bin/env python3
"""The README's chart: ferrostator's speed-up over pystator, end to end first, drawn as
an SVG from the reports ``make bench`` writes (``benches/report.py``'s Markdown).

    python benches/chart.py SEED_REPORT.md V47_REPORT.md OUT.svg

Reads every table with a "speed-up" column (the first one: ferrostator's) and draws the
rows named in ``ROWS``, in that order. Plain SVG, no plotting library: the output is
the same for the same figures.
"""

from __future__ import annotations

import html
import math
import re
import sys
from pathlib import Path

_EXPR_ROW = "Orchestrator.process_event (sync), guards as expr"

#: (report, row label prefix, bar label); "seed" is pystator 0.0.25, "v47" 0.0.47.
ROWS = (
    ("seed", "Orchestrator.process_event (sync)", "Orchestrator.process_event, 0.0.25"),
    ("seed", "machine.process + executor.execute", "machine.process + execute, 0.0.25"),
    (
        "seed",
        "Orchestrator.process_event (sync), guards as expr",
        "expression-driven machine, 0.0.25",
    ),
    ("v47", "Orchestrator.process_event (sync)", "Orchestrator.process_event, 0.0.47"),
    (
        "v47",
        "Orchestrator.process_event (sync), guards as expr",
        "expression-driven machine, 0.0.47",
    ),
    ("seed", "sync9 ", "execute, 9 sync actions"),
    ("seed", "seq9a ", "async_execute, 9 async actions"),
    ("seed", "par9s ", "async_execute_parallel, 9 sync actions"),
    ("seed", "reg1 ", "ActionRegistry.execute, 1 action"),
    ("seed", "expr ", "one expr guard (evaluate)"),
    ("v47", "when3 ", "execute, 3 actions with `when`"),
)
END_TO_END = 5  # the first ROWS are end to end (pystator's engine)


def speedups(report: str) -> list[tuple[str, float]]:
    """(row label, speed-up) of every table row whose table has a "speed-up" column."""
    found: list[tuple[str, float]] = []
    column: int | None = None
    for line in report.splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if column is None:
            matches = [i for i, cell in enumerate(cells) if cell.endswith("speed-up")]
            column = matches[0] if matches else -1
            continue
        if column < 0 or set(cells[0]) <= set("-: ") or column >= len(cells):
            continue
        number = re.match(r"([0-9.]+)×", cells[column])
        if number:
            found.append((cells[0], float(number.group(1))))
    return found


def pick(reports: dict[str, list[tuple[str, float]]]) -> list[tuple[str, float, bool]]:
    bars = []
    for index, (report, prefix, label) in enumerate(ROWS):
        rows = reports[report]
        exact = [value for name, value in rows if name == prefix.strip()]
        started = [value for name, value in rows if name.startswith(prefix)]
        # an exact name wins over a longer one with the same start ("... (sync)" vs
        # "... (sync), guards as expr")
        values = exact or started
        if values:
            bars.append((label, values[0], index < END_TO_END))
    return bars


def svg(bars: list[tuple[str, float, bool]], caption: str) -> str:
    width, left, right, bar_h, gap, top = 760, 300, 60, 18, 8, 44
    height = top + len(bars) * (bar_h + gap) + 40
    top_value = max(value for _, value, _ in bars)
    scale_max = 10 ** math.ceil(math.log10(max(top_value, 10)))
    span = width - left - right

    def x(value: float) -> float:  # log scale from 1x
        return left + span * math.log10(max(value, 1.0)) / math.log10(scale_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">'
        "ferrostator speed-up over pystator (× faster, log scale)</text>",
        f'<text x="{left}" y="34" fill="#555">{html.escape(caption)}</text>',
    ]
    tick = 1
    while tick <= scale_max:
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" '
                   f'y2="{height - 30}" stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{tx:.1f}" y="{height - 16}" text-anchor="middle" '
                   f'fill="#555">{tick}×</text>')  # fmt: skip
        tick *= 10
    for i, (label, value, end_to_end) in enumerate(bars):
        y = top + i * (bar_h + gap)
        colour = "#c0392b" if end_to_end else "#2e86c1"
        out.append(
            f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
        )
        out.append(f'<rect x="{left}" y="{y}" width="{max(x(value) - left, 1):.1f}" '
                   f'height="{bar_h}" fill="{colour}"/>')  # fmt: skip
        out.append(f'<text x="{x(value) + 4:.1f}" y="{y + 13}">{value:g}×</text>')
    legend = (
        "red: end to end, pystator's engine with ferrostator.install(); "
        "blue: the executor or the expression alone"
    )
    out.append(f'<text x="12" y="{height - 2}" fill="#555">{html.escape(legend)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def caption_of(report: str) -> str:
    """The interpreter, build and machine a report names in its header."""
    fields = {}
    for line in report.splitlines():
        match = re.match(r"- (build|Python|machine): (.*)", line)
        if match:
            fields[match.group(1)] = match.group(2)
    python = fields.get("Python", "").split(" (")[0]
    build = fields.get("build", "").split(" (")[0].split(":")[0]
    machine = fields.get("machine", "").split(";")[0]
    return ", ".join(part for part in (python, build, machine) if part)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    seed, v47 = (Path(p).read_text() for p in argv[:2])
    bars = pick({"seed": speedups(seed), "v47": speedups(v47)})
    if len(bars) < len(ROWS):
        missing = len(ROWS) - len(bars)
        print(f"chart: {missing} of the chart's rows are not in the reports", file=sys.stderr)
        return 1
    Path(argv[2]).write_text(svg(bars, caption_of(seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
