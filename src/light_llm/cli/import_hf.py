"""`lightllm import-hf SOURCE --out RUN`: a Hugging Face folder (one of the architectures
of interop/hf/) or a GGUF file (llama, qwen2, qwen3, olmo2, phi3, gemma, gemma2, gemma3, gpt2; interop/gguf/) on disk becomes a
light_llm model folder that `lightllm train`, `lightllm generate` and `lightllm export`
accept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def import_hf(
    source: Annotated[
        Path, typer.Argument(metavar="SOURCE", help="Hugging Face folder (config.json, model.safetensors or "
                             "shards, tokenizer.json) or a GGUF file (llama, qwen2, qwen3, olmo2, phi3, gemma, gemma2, gemma3, gpt2; any tensor type the "
                             "gguf package reads).")
    ],
    out: Annotated[Path, typer.Option("--out", help="The light_llm model folder to write.")],
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Compare logits with transformers (when installed).")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the random verification prompts.")] = 0,
) -> None:
    """Import a Hugging Face checkpoint or a GGUF file: spec.resolved.json, model.safetensors, tokenizer.json."""
    from rich.console import Console

    from light_llm.exports.phase_display import RichPhaseDisplay
    from light_llm.errors import ExportError
    from light_llm.import_hf import HFImportError
    from light_llm.import_hf import import_hf as run_import

    display = RichPhaseDisplay(Console(stderr=True), "import")  # stdout keeps the summary
    try:
        result = run_import(source, out, verify=verify, seed=seed, display=display)
    except (HFImportError, ExportError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)
    except OSError as error:
        typer.echo(f"error: {out}: cannot write the model folder: {error}", err=True)
        raise typer.Exit(1)
    typer.echo(f"imported {result.model_type} ({result.num_parameters:,} parameters) from {source} into {out}")
    if result.parity is not None:
        typer.echo(f"  vs transformers: {result.parity.summary()}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
