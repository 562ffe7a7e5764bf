"""`lightllm sweep SPEC --grid KEY=V1,V2 ... --out DIR [--set KEY=VALUE ...]`: one run per
combination, then the comparison table (see light_llm.experiments.sweep)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from light_llm.cli.options import SetOption
from light_llm.cli.train import INTERRUPTED_EXIT_CODE


def sweep(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="Spec file (JSON or YAML).")],
    grid: Annotated[
        list[str],
        typer.Option("--grid", metavar="KEY=V1,V2", help="A dotted spec key and the values to try, e.g. "
                     "model.attention.variant=mha,gqa,complex (repeatable: every combination runs).",
                     show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", help="Sweep folder: one run folder per combination, "
                                      "validation_loss.png and report.md.")],
    set_values: SetOption = None,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard/--no-tensorboard", help="Write TensorBoard event files in each run.")
    ] = True,
) -> None:
    """Train one run per combination of --grid values (run it again to continue an
    interrupted sweep: finished runs are skipped, a half-done run resumes), then compare."""
    from rich.console import Console

    from light_llm.cli.compare import compare_and_print
    from light_llm.run_logs.metrics import RunReadError
    from light_llm.experiments.sweep import parse_grid, run_sweep
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.overrides import parse_overrides

    console = Console()
    try:
        axes = [parse_grid(text) for text in grid]
        overrides = parse_overrides(set_values)
        runs = run_sweep(spec_path, axes, overrides, out, console=console, tensorboard=tensorboard)
    except SpecError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted before a checkpoint could be saved; run the sweep again to continue", err=True)
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    console.rule("sweep")
    for run in runs:
        console.print(f"{run.status:11} {run.path}  {run.message.splitlines()[0] if run.message else ''}", highlight=False)
    if any(run.status == "interrupted" for run in runs):
        console.print("interrupted: run the same command again to continue", highlight=False)
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    comparable = [run.path for run in runs if run.status in ("trained", "skipped")]
    if comparable:
        try:
            compare_and_print(comparable, out)
        except (RunReadError, OSError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1)
    if any(run.status in ("invalid", "failed") for run in runs):
        raise typer.Exit(1)
