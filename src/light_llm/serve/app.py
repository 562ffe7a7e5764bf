"""The Starlette application: the OpenAI routes, the API key check, server-sent events,
and (with --web) the browser page of examples/web with the export folder under /model/."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from light_llm.chat_template import ChatTemplateError
from light_llm.serve.engine import Engine, QueueFull
from light_llm.serve.generation import Generation
from light_llm.serve.model import ServedModel
from light_llm.serve.protocol import BadRequest, Options, chat_messages, completion_prompt, options


def error_response(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}},
                        status_code=status)


class ApiKey:
    """Every request must carry `Authorization: Bearer KEY` (401 otherwise)."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self.key):
                response = error_response(401, "missing or wrong API key: send `Authorization: Bearer KEY`",
                                          "authentication_error")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Routes:
    def __init__(self, model: ServedModel, engine: Engine):
        self.model, self.engine = model, engine

    def _max_tokens(self, prompt: list[int], opts: Options, default: int | None) -> int:
        """Tokens this request may generate; a request beyond the context is a BadRequest."""
        context, used = self.model.context, len(prompt)
        wanted = opts.max_tokens or default or context - used
        if used >= context or used + wanted > context:
            raise BadRequest(f"the prompt has {used} tokens and max_tokens is {wanted}: together more than "
                             f"the model's context of {context} tokens", "max_tokens")
        return wanted

    def _start(self, prompt: list[int], opts: Options, default: int | None) -> Generation:
        if not prompt:
            raise BadRequest("the prompt encodes to no tokens; allowed: a prompt of at least one token", "prompt")
        vocab = self.model.generator.geometry.vocab_size
        if any(not 0 <= token < vocab for token in prompt):
            raise BadRequest(f"prompt: token ids must lie in 0..{vocab - 1}", "prompt")
        return Generation(self.engine, prompt, self._max_tokens(prompt, opts, default), opts,
                          self.model.generator.decode)

    async def completions(self, request: Request) -> Response:
        body = await _json(request)
        opts = options(body, ("max_tokens",), own=("prompt",))
        prompt = completion_prompt(body)
        ids = self.model.generator.encode(prompt) if isinstance(prompt, str) else prompt
        generation = self._start(ids, opts, default=16)  # OpenAI's default max_tokens for completions
        head = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": self.model.name}
        if opts.stream:
            return _sse(self._completion_events(head, generation, opts), generation)
        text = await _text_unless_client_leaves(request, generation)
        if text is None:
            return Response(status_code=499)  # nobody reads it: the client is gone
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": _reason(generation)}
        return JSONResponse({**head, "choices": [_ids(choice, generation, opts)], "usage": generation.usage()})

    async def _completion_events(self, head: dict, generation: Generation, opts: Options) -> AsyncIterator[dict]:
        async for piece in generation.pieces():
            choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
            yield {**head, "choices": [_ids(choice, generation, opts)]}
        choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": _reason(generation)}
        yield {**head, "choices": [_ids(choice, generation, opts)]}
        if opts.include_usage:
            yield {**head, "choices": [], "usage": generation.usage()}

    async def chat_completions(self, request: Request) -> Response:
        body = await _json(request)
        opts = options(body, ("max_completion_tokens", "max_tokens"), own=("messages",))
        try:
            prompt = self.model.chat.render(chat_messages(body))
        except ChatTemplateError as error:  # e.g. a template that refuses roles out of turn
            raise BadRequest(str(error), "messages") from None
        generation = self._start(self.model.generator.encode(prompt), opts, default=None)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model.name}
        if opts.stream:
            return _sse(self._chat_events({**head, "object": "chat.completion.chunk"}, generation, opts), generation)
        text = await _text_unless_client_leaves(request, generation)
        if text is None:
            return Response(status_code=499)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                  "finish_reason": _reason(generation)}
        return JSONResponse({**head, "choices": [_ids(choice, generation, opts)], "usage": generation.usage()})

    async def _chat_events(self, head: dict, generation: Generation, opts: Options) -> AsyncIterator[dict]:
        yield {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        async for piece in generation.pieces():
            choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            yield {**head, "choices": [_ids(choice, generation, opts)]}
        choice = {"index": 0, "delta": {}, "finish_reason": _reason(generation)}
        yield {**head, "choices": [_ids(choice, generation, opts)]}
        if opts.include_usage:
            yield {**head, "choices": [], "usage": generation.usage()}

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": self.model.name, "object": "model", "created": 0, "owned_by": "light_llm",
             "context_length": self.model.context}]})

    async def stats(self, request: Request) -> Response:
        return JSONResponse({**self.engine.stats.to_dict(), "in_flight": self.engine.in_flight(),
                             "max_batch": self.engine.max_batch, "max_queue": self.engine.max_queue})


def _ids(choice: dict, generation: Generation, opts: Options) -> dict:
    """`token_ids` in the choice when the request asked for them: all of them in a whole
    answer, those generated since the previous chunk in a stream."""
    if opts.return_token_ids:
        choice["token_ids"] = generation.new_token_ids()
    return choice


def _reason(generation: Generation) -> str:
    return "stop" if generation.finish_reason in ("stop", "cancelled") else generation.finish_reason or "stop"


async def _text_unless_client_leaves(request: Request, generation: Generation) -> str | None:
    """The whole answer of a non-streamed request, or None when its client disconnects
    first: then the generation ends (its row leaves the batch, or it leaves the queue).
    A streamed answer needs no watch: Starlette cancels its stream when the client leaves."""
    answer = asyncio.ensure_future(generation.text())
    gone = asyncio.ensure_future(_client_gone(request))
    await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
    if answer.done():
        gone.cancel()
        return answer.result()
    answer.cancel()
    generation.cancel()
    await asyncio.gather(answer, return_exceptions=True)
    return None


async def _client_gone(request: Request) -> None:
    """Returns when the server sees the client's connection close (the body is read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _json(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not JSON ({error})") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


class GenerationStream(StreamingResponse):
    """Server-sent events of one generation, which ends when the response does, however
    it ends. (When the client leaves while a write waits for its socket, Starlette stops
    the response but leaves the event generators suspended, unclosed until garbage
    collection: without this the engine would go on generating for nobody.)"""

    def __init__(self, lines: AsyncIterator[str], generation: Generation):
        super().__init__(lines, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.generation = generation

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.generation.cancel()  # nothing when the generation has ended


def _sse(events: AsyncIterator[dict], generation: Generation) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        async for event in events:
            yield f"data: {json.dumps(event)}\n\n"
        yield "data: [DONE]\n\n"

    return GenerationStream(lines(), generation)


async def _bad_request(request: Request, error: BadRequest) -> Response:
    return error_response(400, str(error), "invalid_request_error", error.param)


async def _queue_full(request: Request, error: QueueFull) -> Response:
    return error_response(429, str(error), "rate_limit_error")


def create_app(model: ServedModel, engine: Engine, *, api_key: str | None = None,
               web_dir: Path | None = None) -> Starlette:
    routes = Routes(model, engine)
    table = [
        Route("/v1/completions", routes.completions, methods=["POST"]),
        Route("/v1/chat/completions", routes.chat_completions, methods=["POST"]),
        Route("/v1/models", routes.models, methods=["GET"]),
        Route("/v1/light_llm/stats", routes.stats, methods=["GET"]),
    ]
    if web_dir is not None:
        import mimetypes

        from starlette.staticfiles import StaticFiles

        mimetypes.add_type("text/javascript", ".mjs")  # browsers load modules only with a JS type
        mimetypes.add_type("application/wasm", ".wasm")
        table += [Mount("/model", app=StaticFiles(directory=model.folder)),
                  Mount("/", app=StaticFiles(directory=web_dir, html=True))]
    middleware = [Middleware(ApiKey, key=api_key)] if api_key else []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    return Starlette(routes=table, middleware=middleware, lifespan=lifespan,
                     exception_handlers={BadRequest: _bad_request, QueueFull: _queue_full})
