"""The `lightllm` typer application. Each command lives in its own module of this package
and imports the heavy libraries (torch, onnxruntime) only when it runs."""

from typing import Annotated

import typer

from light_llm import __version__

app = typer.Typer(
    name="lightllm",
    help="A declarative compiler for small decoder-only language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"light_llm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an internal error (or set LIGHTLLM_DEBUG=1)."),
    ] = False,
) -> None:
    """Validate, compile, train, export and run small language models from one spec file."""
    from light_llm.cli.errors import set_debug_option

    set_debug_option(debug)


def _register_commands() -> None:
    # Each entry: (module in light_llm.cli, function name, command name).
    from importlib import import_module

    from light_llm.cli.errors import guarded

    if app.registered_commands:
        return
    for module, function, name in COMMANDS:
        app.command(name)(guarded(getattr(import_module(f"light_llm.cli.{module}"), function)))


COMMANDS: list[tuple[str, str, str]] = [
    ("demo", "demo", "demo"),
    ("validate", "validate", "validate"),
    ("schema", "schema", "schema"),
    ("compile", "compile_spec", "compile"),
    ("export", "export", "export"),
    ("verify", "verify", "verify"),
    ("eval", "evaluate", "eval"),
    ("generate", "generate", "generate"),
    ("serve", "serve", "serve"),
    ("import_hf", "import_hf", "import-hf"),
    ("train", "train", "train"),
    ("compare", "compare", "compare"),
    ("sweep", "sweep", "sweep"),
]


def main() -> None:
    _register_commands()
    app()
