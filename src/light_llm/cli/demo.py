"""`lightllm demo [SPEC] [--out RUN] [--steps N]`: the whole flow in one command, on the
built-in default spec and the standard library's source unless SPEC is given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from light_llm.cli.options import SetOption
from light_llm.cli.train import INTERRUPTED_EXIT_CODE


def demo(
    spec_path: Annotated[
        Optional[Path],
        typer.Argument(metavar="[SPEC]", help="Spec file (default: the built-in default spec).", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Run folder; the ONNX export goes to RUN/exports/onnx.")] = Path("runs/demo"),
    steps: Annotated[Optional[int], typer.Option(min=1, help="Override train.steps.")] = None,
    set_values: SetOption = None,
) -> None:
    """Compile, train (progress shown), export to ONNX with verification, and generate a
    sample through onnxruntime. Run it again to continue an interrupted run."""
    from rich.console import Console

    from light_llm.demo import run_demo
    from light_llm.presets import default_spec_path
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.overrides import parse_overrides

    console = Console()
    try:
        overrides = parse_overrides(set_values)
        result = run_demo(spec_path or default_spec_path(), out, steps=steps, overrides=overrides, console=console)
    except SpecError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1)
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if result.interrupted:
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
