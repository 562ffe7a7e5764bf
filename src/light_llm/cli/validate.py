"""`lightllm validate SPEC...`: check spec files, listing every problem of every file."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from light_llm.cli.options import SetOption

if TYPE_CHECKING:
    from light_llm.schemas.spec import Spec


def validate(
    specs: Annotated[
        list[Path], typer.Argument(help="Spec files (JSON or YAML).", show_default=False)
    ],
    set_values: SetOption = None,
) -> None:
    """Validate spec files: one 'ok' line per valid file, every error of the others."""
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.overrides import load_spec_with_overrides, parse_overrides

    try:
        overrides = parse_overrides(set_values)
    except SpecError as error:
        typer.echo(str(error))
        raise typer.Exit(1)
    failed = 0
    for path in specs:
        try:
            spec = load_spec_with_overrides(path, overrides)
        except SpecError as error:
            failed += 1
            typer.echo(str(error))
        except Exception as error:  # a bug must still not print a traceback
            failed += 1
            typer.echo(
                f"{path}: internal error ({type(error).__name__}: {error}); please report it"
            )
        else:
            typer.echo(f"{path}: ok ({_summary(spec)})")
    if failed:
        raise typer.Exit(1)


def _summary(spec: "Spec") -> str:
    model = spec.model
    attention = model.attention
    return (
        f"{model.name}, {model.num_layers} layers, d_model {model.d_model}, "
        f"{attention.variant} {attention.num_heads} heads, {model.positional.encoding}"
    )
