"""`lightllm generate DIR --prompt TEXT`: generate from an ONNX export folder
(onnxruntime) or a model/run folder (eager PyTorch), streaming the text.
`--chat MESSAGE` formats one user message with the model's chat template
(light_llm/chat_template.py) and prints only the reply, which ends at any end-of-turn token."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from light_llm.errors import LightLLMError


def generate(
    folder: Annotated[Path, typer.Argument(help="An export folder (light_llm.json) or a model/run folder.", show_default=False)],
    prompt: Annotated[Optional[str], typer.Option(help="The text to continue.", show_default=False)] = None,
    chat: Annotated[Optional[str], typer.Option(help="A user message: formatted with the model's chat template; prints the reply only.", show_default=False)] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate at most (at least 1).")] = 64,
    temperature: Annotated[float, typer.Option(help="0: greedy; above 0: sampling.")] = 0.0,
    top_k: Annotated[int, typer.Option(help="Sample among the k most likely tokens (0: all).")] = 0,
    top_p: Annotated[float, typer.Option(help="Sample among the most likely tokens holding this probability mass.")] = 1.0,
    seed: Annotated[Optional[int], typer.Option(help="Seed for sampling (reproducible output).")] = None,
    compile: Annotated[str, typer.Option(help="Model/run folders: torch.compile the decode step: auto (once it pays), on, off.")] = "auto",
) -> None:
    """Continue PROMPT, or answer a --chat message, printing tokens as they come."""
    from light_llm.cli.errors import fail
    from light_llm.runtime.manifest import MANIFEST
    from light_llm.runtime.sampling import Sampling

    try:
        if (prompt is None) == (chat is None):
            raise GenerateInputError("give either --prompt (text to continue) or --chat (a user message)")
        _check_inputs(prompt or chat, "--prompt" if chat is None else "--chat", max_new_tokens, temperature)
        sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        if (folder / MANIFEST).is_file():
            from light_llm.runtime.exported import load_export

            generator = load_export(folder)
        else:
            from light_llm.generation.eager import load_eager

            generator = load_eager(folder, compile=compile)
        if chat is not None:
            prompt = _chat_prompt(folder, chat)
        pieces = generator.stream(prompt, max_new_tokens, sampling)
        first = next(pieces, "")  # a prompt that cannot be continued fails here, before any output
        typer.echo(("" if chat is not None else prompt) + first, nl=False)
        for piece in pieces:
            typer.echo(piece, nl=False)
        typer.echo()
        compiled_in = getattr(generator.run, "compile_seconds", None)
        if compiled_in is not None:
            typer.echo(f"compiled the decode step in {compiled_in:.1f} s", err=True)
        unavailable = getattr(generator.run, "unavailable", None)
        if compile == "on" and unavailable is not None:
            typer.echo(f"note: --compile on: compiling the decode step failed ({unavailable}); "
                       "decoded with the plain eager path", err=True)
    except ValueError as error:  # the project's errors, and the runtime's bad options
        fail(str(error))


def _chat_prompt(folder: Path, message: str) -> str:
    from light_llm.chat_template import load_chat_template

    return load_chat_template(folder).render([{"role": "user", "content": message}])


class GenerateInputError(LightLLMError):
    """A prompt or option `lightllm generate` cannot use."""


def _check_inputs(prompt: str, option: str, max_new_tokens: int, temperature: float) -> None:
    import math

    # Python decodes command-line bytes that are not UTF-8 to lone surrogates.
    bad = next((index for index, char in enumerate(prompt) if "\ud800" <= char <= "\udfff"), None)
    if bad is not None:
        encoded = prompt.encode("utf-8", errors="surrogateescape")
        offset = len(prompt[:bad].encode("utf-8", errors="surrogateescape"))
        raise GenerateInputError(
            f"{option} is not valid UTF-8 text (byte 0x{encoded[offset]:02x} at byte offset "
            f"{offset}); pass UTF-8 text"
        )
    if max_new_tokens < 1:
        raise GenerateInputError(f"--max-new-tokens {max_new_tokens}: allowed: an integer ≥ 1")
    if not math.isfinite(temperature):
        raise GenerateInputError(f"--temperature {temperature}: allowed: a finite number ≥ 0")
