"""The comparison table, as a rich Table for the terminal and as Markdown for the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from light_llm.experiments.report import RunReport

MISSING = "—"


def _number(value: float | None, form: str) -> str:
    return MISSING if value is None else format(value, form)


def _human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.2f}{unit}"
    return f"{count:.0f}"


COLUMNS: list[tuple[str, Callable[[RunReport], str]]] = [
    ("run", lambda r: r.name),
    ("parameters", lambda r: f"{r.parameters:,}"),
    ("FLOPs/token", lambda r: _human(r.forward_flops_per_token)),
    ("tokens", lambda r: f"{r.metrics.tokens:,}"),
    ("final val loss", lambda r: _number(r.metrics.final_validation, ".4f")),
    ("best val loss", lambda r: _number(r.metrics.best_validation, ".4f")),
    ("perplexity", lambda r: _number(r.perplexity, ".2f")),
    ("tokens/s", lambda r: _number(r.metrics.median_tokens_per_second, ",.0f")),
    ("wall time", lambda r: MISSING if r.metrics.wall_seconds is None else f"{r.metrics.wall_seconds:.1f} s"),
    ("exports (parity, decode)", lambda r: "; ".join(e.describe() for e in r.exports) or MISSING),
]
"""Header and cell of every column. FLOPs/token: forward pass at max_seq_len; tokens/s:
median training throughput; perplexity: exp(final validation loss)."""


def rows(reports: Sequence[RunReport]) -> list[list[str]]:
    return [[cell(report) for _, cell in COLUMNS] for report in reports]


def rich_table(reports: Sequence[RunReport]):
    from rich.table import Table

    table = Table(title="runs compared")
    cells = rows(reports)
    for index, (header, _) in enumerate(COLUMNS):
        if index == 0:
            table.add_column(header, no_wrap=True, min_width=max(len(row[0]) for row in cells))
        elif index == len(COLUMNS) - 1:
            table.add_column(header, overflow="fold")
        else:
            table.add_column(header, justify="right")
    for row in cells:
        table.add_row(*row)
    return table


def markdown_table(reports: Sequence[RunReport]) -> str:
    headers = [header for header, _ in COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i in (0, len(headers) - 1) else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(reports)]
    return "\n".join(lines)
