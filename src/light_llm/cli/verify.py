"""`lightllm verify DIR`: re-check an export folder of any target (files unaltered, parity)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def verify(
    folder: Annotated[Path, typer.Argument(help="An export folder of `lightllm export` (--onnx, --torchscript, --pt2, --aoti, --hf, --gguf).", show_default=False)],
    source: Annotated[Optional[Path], typer.Option(help="The model or run folder it was exported from (default: the one recorded in light_llm.json).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the random prompts (default: the export's).")] = None,
) -> None:
    """Check that the export's files are unaltered and that it still matches eager PyTorch."""
    from light_llm.cli.errors import fail
    from light_llm.exports.reverify import reverify
    from light_llm.exports.verify import describe_failure

    report = reverify(folder, source, seed)  # errors: the one path of cli/errors.py
    typer.echo(f"{folder}: {report.summary()}")
    if not report.passed:
        fail(describe_failure(report))
