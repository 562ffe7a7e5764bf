"""`lightllm serve DIR`: an OpenAI-compatible HTTP server over an export folder
(onnxruntime, no torch) or a model/run folder (eager PyTorch). See docs/serving.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from light_llm.serve.limits import MAX_BATCH, MAX_QUEUE, PREFILL_TOKENS

WEB_PAGE = Path(__file__).resolve().parents[3] / "examples" / "web"  # in a source checkout


def serve(
    folder: Annotated[Path, typer.Argument(help="An export folder (light_llm.json) or a model/run folder.", show_default=False)],
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[Optional[str], typer.Option(help="Require `Authorization: Bearer KEY` on every request.", show_default=False)] = None,
    web: Annotated[bool, typer.Option("--web", help="Also serve the browser page of examples/web at / and the export folder at /model/.")] = False,
    max_batch: Annotated[int, typer.Option(help="Requests decoded together at most.")] = MAX_BATCH,
    max_queue: Annotated[int, typer.Option(help="Requests waiting for a batch slot at most; past it: HTTP 429.")] = MAX_QUEUE,
    prefill_tokens: Annotated[int, typer.Option(help="Prompt positions one prefill call holds at most (newcomers × their longest prompt; one newcomer always goes): running rows get a token between prefills.")] = PREFILL_TOKENS,
    threads: Annotated[Optional[int], typer.Option(help="onnxruntime intra-op threads (default: all cores).", show_default=False)] = None,
    model_name: Annotated[Optional[str], typer.Option(help="The model id clients see (default: the folder's name).", show_default=False)] = None,
) -> None:
    """Serve /v1/completions, /v1/chat/completions and /v1/models with streaming and batching."""
    import logging

    from light_llm.errors import LightLLMError

    try:
        if not folder.is_dir():
            raise LightLLMError(f"{folder}: no such folder; allowed: an export folder or a model/run folder")
        if not 0 <= port <= 65535:
            raise LightLLMError(f"--port {port}: allowed: 0..65535")
        for option, value, low in (("--max-batch", max_batch, 1), ("--max-queue", max_queue, 0),
                                   ("--prefill-tokens", prefill_tokens, 1), ("--threads", threads, 1)):
            if value is not None and value < low:
                raise LightLLMError(f"{option} {value}: allowed: an integer >= {low}")
        web_dir = _web_dir(folder) if web else None
        if web and api_key:
            raise LightLLMError("--web with --api-key: a browser loads the page without the key; "
                                "serve the page from another static server, or drop --api-key")
        from light_llm.serve.app import create_app
        from light_llm.serve.engine import Engine
        from light_llm.serve.model import load_served_model

        model = load_served_model(folder, threads=threads, name=model_name)
        generator = model.generator
        engine = Engine(generator.run, generator.geometry, eos_id=generator.stop_ids, pad_id=model.pad_id,
                        max_batch=max_batch, max_queue=max_queue, prefill_tokens=prefill_tokens,
                        shares_kv_buffer=model.shares_kv_buffer, slot_rotation=model.slot_rotation)
        app = create_app(model, engine, api_key=api_key, web_dir=web_dir)
    except (LightLLMError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    backend = "onnxruntime" if model.exported else "eager PyTorch"
    typer.echo(f"serving {model.name} ({backend}, context {model.context}) on http://{host}:{port}/v1 "
               f"(batch {max_batch}, queue {max_queue}{', API key required' if api_key else ''})"
               + (f"; page at http://{host}:{port}/" if web else ""), err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _web_dir(folder: Path) -> Path:
    from light_llm.errors import LightLLMError

    if not (WEB_PAGE / "index.html").is_file():
        raise LightLLMError(f"--web: the page {WEB_PAGE} is missing (it ships in the source checkout)")
    if not (folder / "light_llm.json").is_file():
        raise LightLLMError(f"--web: {folder} is not an export folder; the page runs ONNX exports")
    if not (folder / "config.json").is_file():
        typer.echo(f"note: --web: {folder} has no config.json (its spec maps onto no Hugging Face "
                   "architecture): transformers.html refuses it; the page at / does not need it", err=True)
    return WEB_PAGE
