"""`lightllm compare RUN...`: the runs' table, and with an output folder a plot of
validation loss against tokens and a Markdown report beside it.

    OUT/validation_loss.png   one line per run
    OUT/report.md             the table, the plot and where each run lives
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from light_llm.atomic_file import write_atomically
from light_llm.run_logs.metrics import RunReadError
from light_llm.run_logs.plot import plot_validation
from light_llm.experiments.report import RunReport, read_run
from light_llm.experiments.table import COLUMNS, markdown_table

PLOT_FILE = "validation_loss.png"
REPORT_FILE = "report.md"


def read_runs(runs: Sequence[Path], *, measure_decode: bool = False) -> list[RunReport]:
    """One report per run folder, named by the folder (its path where names repeat)."""
    if not runs:
        raise RunReadError("no run folders given")
    names = [run.name for run in runs]
    return [
        read_run(run, run.name if names.count(run.name) == 1 else str(run), measure_decode=measure_decode)
        for run in runs
    ]


def write_report(reports: Sequence[RunReport], out: Path) -> tuple[Path, Path]:
    """OUT/validation_loss.png and OUT/report.md; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    plot = plot_validation([(report.name, report.metrics) for report in reports], out / PLOT_FILE)
    report = out / REPORT_FILE
    write_atomically(report, markdown_report(reports, plot.name))
    return plot, report


def markdown_report(reports: Sequence[RunReport], plot_name: str) -> str:
    where = "\n".join(f"- `{report.name}`: `{report.path}`" for report in reports)
    columns = ", ".join(header for header, _ in COLUMNS)
    return (
        f"# {len(reports)} runs compared\n\n"
        f"{markdown_table(reports)}\n\n"
        f"![validation loss against tokens trained]({plot_name})\n\n"
        f"Columns: {columns}. FLOPs/token counts the forward pass at max_seq_len; perplexity is "
        "exp(final validation loss); tokens/s is the median training throughput; wall time "
        "covers training (every resumed part) up to the last step.\n\n"
        f"Runs:\n\n{where}\n"
    )

