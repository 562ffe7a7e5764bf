"""The one error path of every command: a `LightLLMError` (or an OSError: a disk, a
permission, or a package the install lacks: cli/missing.py) is printed as one line
`error: ...` of at most MAX_LINE characters and exits 1; anything else is a bug, printed as one line that says how to see its traceback
(`LIGHTLLM_DEBUG=1` or `lightllm --debug`), and exits 1 as well."""

from __future__ import annotations

import functools
import os
import re
from typing import Callable

import click
import typer

from light_llm.cli.missing import missing_module_line
from light_llm.errors import MAX_LINE, LightLLMError
from light_llm.formatting import shorten

MAX_WORD = 160  # a longer key, value or path inside a message is shortened in the middle
DEBUG_VARIABLE = "LIGHTLLM_DEBUG"


_debug_option = False  # `lightllm --debug`, set by the root callback of every invocation


def set_debug_option(value: bool) -> None:
    global _debug_option
    _debug_option = value


def debugging() -> bool:
    return _debug_option or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def one_line(message: str) -> str:
    """`message` on one line of at most MAX_LINE characters, long words shortened."""
    text = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    text = re.sub(r"\S{%d,}" % (MAX_WORD + 1), lambda match: shorten(match.group(), MAX_WORD), text)
    return shorten(text, MAX_LINE)


def fail(message: str) -> None:
    typer.echo(one_line(f"error: {message}"), err=True)
    raise typer.Exit(1)


def guarded(command: Callable) -> Callable:
    """`command` with the one error path around it (typer reads the signature through
    functools.wraps)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (LightLLMError, OSError) as error:
            if debugging():
                raise
            fail(str(error) or type(error).__name__)
        except Exception as error:
            if debugging():
                raise
            missing = missing_module_line(error) if isinstance(error, ModuleNotFoundError) else None
            if missing:
                fail(missing)
            typer.echo(_internal(error), err=True)
            raise typer.Exit(1)

    return run


def _internal(error: Exception) -> str:
    tail = f" — rerun with {DEBUG_VARIABLE}=1 (or `lightllm --debug ...`) to see the traceback"
    head = one_line(f"internal error (a bug in light_llm, please report it): {type(error).__name__}: {error}")
    return shorten(head, MAX_LINE - len(tail)) + tail
