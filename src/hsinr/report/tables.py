"""Metric tables written as Markdown, CSV and JSON, with the protocol they were measured under.

A table is a list of rows (dicts of equal keys). Floats are shown with 4 decimals in Markdown and kept at full
precision in CSV and JSON. Every table carries a ``protocol`` dict (data, split, seed, crop, PSNR definition, budget)
that is printed above it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..io.atomic import prepare_output_folder, write_text_atomic
from ..metrics import METRIC_INFO


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def format_markdown(rows: list[dict], title: str | None = None, protocol: dict | None = None) -> str:
    """A Markdown table (with a title, the protocol as a bullet list and a legend of the metric columns)."""
    lines = []
    if title:
        lines += [f"## {title}", ""]
    for key, value in (protocol or {}).items():
        lines.append(f"- **{key}**: {value}")
    if protocol:
        lines.append("")
    if not rows:
        return "\n".join(lines + ["(no rows)", ""])
    columns = list(rows[0])
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    legend = [
        f"- `{c}`: {METRIC_INFO[c][0]} ({'higher' if METRIC_INFO[c][1] else 'lower'} is better)"
        for c in columns
        if c in METRIC_INFO
    ]
    if legend:
        lines += ["", *legend]
    return "\n".join(lines) + "\n"


def write_table(
    rows: list[dict], out_dir: str | Path, stem: str, title: str | None = None, protocol: dict | None = None
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.json`` into ``out_dir``; returns the paths.

    Each file is written atomically (:mod:`hsinr.io.atomic`): complete at its name or, after a failure, the file
    that was there before."""
    out_dir = prepare_output_folder(out_dir)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("md", "csv", "json")}
    write_text_atomic(paths["md"], format_markdown(rows, title, protocol))
    text = io.StringIO(newline="")
    if rows:
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text_atomic(paths["csv"], text.getvalue())
    write_text_atomic(paths["json"], json.dumps({"title": title, "protocol": protocol, "rows": rows}, indent=2))
    return paths
