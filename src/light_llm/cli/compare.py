"""`lightllm compare RUN... [--out DIR]`: runs side by side; with --out a plot of
validation loss against tokens and a Markdown report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def compare(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN...", help="Run folders of `lightllm train`.", show_default=False)],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="Write OUT/validation_loss.png (validation loss against tokens, one line per "
                     "run) and OUT/report.md (the table and the plot)."),
    ] = None,
    decode: Annotated[
        bool, typer.Option("--decode", help="Time decoding (tokens/s, batch 1, onnxruntime) of ONNX exports "
                           "that recorded no decode speed."),
    ] = False,
) -> None:
    """Compare runs: parameters, FLOPs/token, tokens, validation loss, perplexity, speed,
    wall time, and the parity and decode speed of their exports."""
    from light_llm.run_logs.metrics import RunReadError

    try:
        compare_and_print(runs, out, measure_decode=decode)
    except (RunReadError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)


def compare_and_print(runs: list[Path], out: Path | None, *, measure_decode: bool = False) -> None:
    """Print the table (and write the report with `out`); shared with `lightllm sweep`."""
    import shutil

    from rich.console import Console

    from light_llm.experiments.compare import read_runs, write_report
    from light_llm.experiments.table import rich_table

    reports = read_runs(runs, measure_decode=measure_decode)
    console = Console(width=max(shutil.get_terminal_size().columns, 160))
    console.print(rich_table(reports))
    if out is not None:
        plot, report = write_report(reports, out)
        console.print(f"wrote {plot} and {report}", highlight=False)
