"""`lightllm schema [--markdown] [--out FILE]`: print or write the spec's JSON Schema, or
the Markdown spec reference rendered from it (docs/spec-reference.md)."""

from pathlib import Path
from typing import Annotated

import typer

from light_llm.atomic_file import write_atomically


def schema(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the schema to this file (atomically) instead of stdout."
        ),
    ] = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="The Markdown spec reference (docs/spec-reference.md) instead."
        ),
    ] = False,
) -> None:
    """Print the JSON Schema (Draft 2020-12) of spec files, generated from the spec models."""
    if markdown:
        from light_llm.schemas.reference import render_reference as render
    else:
        from light_llm.schemas.json_schema import render_schema as render

    text = render()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomically(out, text)
    except OSError as error:
        typer.echo(f"{out}: cannot write: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out}")

