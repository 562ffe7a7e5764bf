"""`lightllm eval PATH --perplexity [TEXT]`: the perplexity of a model, run or ONNX export
folder on real text (light_llm/evaluate/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from light_llm.evaluate.windows import DEFAULT_WINDOW_LENGTH, DEFAULT_WINDOWS


def evaluate(
    path: Annotated[Path, typer.Argument(help="A model or run folder (eager PyTorch) or an ONNX export folder (onnxruntime).", show_default=False)],
    text: Annotated[Optional[Path], typer.Argument(help="A UTF-8 text file (default: the built-in English text, pydoc_data.topics).", show_default=False)] = None,
    perplexity: Annotated[bool, typer.Option("--perplexity", help="Measure perplexity (the one evaluation so far).")] = False,
    windows: Annotated[int, typer.Option("--windows", metavar="N", help="Windows of the text scored, at most (consecutive, not overlapping).")] = DEFAULT_WINDOWS,
    window_length: Annotated[Optional[int], typer.Option("--window-length", metavar="L", help=f"Tokens per window (default {DEFAULT_WINDOW_LENGTH}, shortened to the model's max_seq_len).", show_default=False)] = None,
    reference: Annotated[Optional[Path], typer.Option("--reference", metavar="HF_DIR", help="A Hugging Face folder whose transformers model is scored beside (default: the folder an imported model came from).", show_default=False)] = None,
) -> None:
    """Perplexity on text: each window scored from an empty context; exp of the mean
    negative log-likelihood of every predicted token."""
    from light_llm.cli.errors import fail
    from light_llm.evaluate.perplexity import evaluate_perplexity

    if not perplexity:
        fail("choose an evaluation: --perplexity")
    result = evaluate_perplexity(path, text, windows=windows, length=window_length, reference=reference)
    plural = "s" if result.windows > 1 else ""
    typer.echo(f"{path}: {result.text}, {result.windows} window{plural} × {result.window_length} tokens")
    for entry in result.results:
        typer.echo(f"  {entry.backend}: perplexity {entry.perplexity:.3f} over {entry.tokens} tokens, "
                   f"{entry.seconds:.1f} s")
    for note in result.notes:
        typer.echo(f"  note: {note}")
