"""`lightllm compile SPEC [--out DIR]`: the resolved spec, a per-layer table, totals and
the kernels chosen; with --out, a model folder with seeded initial weights."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from light_llm.cli.options import SetOption

TABLE_MIN_WIDTH = 120


def compile_spec(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="Spec file (JSON or YAML).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write a model folder: spec.resolved.json, model.safetensors "
                     "(initial weights seeded by train.seed) and tokenizer.json where known."),
    ] = None,
    set_values: SetOption = None,
    allow_large: Annotated[
        bool,
        typer.Option("--allow-large", help="Compile even when training the spec would need more "
                     "memory than this machine has."),
    ] = False,
) -> None:
    """Compile a spec: print the resolved spec, the layers, parameters, FLOPs and KV bytes."""
    from rich.console import Console

    from light_llm.compiler.memory import (
        MemoryLimitError, check_fits, memory_line, physical_memory_bytes, training_memory,
        training_shape,
    )
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.compiler.summary import compile_summary
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.overrides import load_spec_with_overrides, parse_overrides
    from light_llm.train.tokenizer import build_tokenizer, check_vocab_size

    try:
        spec = resolve_spec(load_spec_with_overrides(spec_path, parse_overrides(set_values)))
        ir = lower_spec(spec)
        micro_batch, seq_len = training_shape(spec)
        memory = training_memory(ir, micro_batch, seq_len)
        if not allow_large:
            check_fits(memory, physical_memory_bytes(), "this machine")
        tokenizer = None if spec.data.tokenizer == "bpe" else build_tokenizer(spec.data)
        if tokenizer is not None:
            check_vocab_size(tokenizer, spec.data, ir.vocab_size)
    except SpecError as error:
        typer.echo(str(error))
        raise typer.Exit(1)
    except MemoryLimitError as error:
        typer.echo(f"{spec_path}: {error}")
        raise typer.Exit(1)
    except ValueError as error:  # e.g. a tokenizer file that cannot be read
        typer.echo(f"{spec_path}: {error}")
        raise typer.Exit(1)
    console = Console(width=max(shutil.get_terminal_size().columns, TABLE_MIN_WIDTH))
    typer.echo(f"# resolved spec of {spec_path}")
    typer.echo(spec.to_json())
    console.print(compile_summary(ir))
    typer.echo(memory_line(memory, micro_batch, seq_len))
    if out is not None:
        try:
            note = _write_model_folder(out, spec, ir, tokenizer)
        except (OSError, ValueError) as error:
            typer.echo(f"{out}: cannot write the model folder: {error}")
            raise typer.Exit(1)
        typer.echo(f"wrote {out} ({note})")


def _write_model_folder(out: Path, spec, ir, tokenizer) -> str:
    import tempfile

    from light_llm.compiler.build import build
    from light_llm.model_folder import save_model_folder

    model = build(ir, seed=spec.train.seed)
    if tokenizer is None:
        save_model_folder(out, spec, model)
        return "no tokenizer.json: the BPE tokenizer is trained on the corpus by `lightllm train`"
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer_file = Path(scratch) / "tokenizer.json"
        tokenizer.save(str(tokenizer_file))
        save_model_folder(out, spec, model, tokenizer_json=tokenizer_file)
    return f"initial weights seeded by train.seed={spec.train.seed}, tokenizer {spec.data.tokenizer}"
