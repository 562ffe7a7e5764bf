"""One request's generation seen from the event loop: it submits a Job to the engine and
turns the tokens the engine thread hands back into text pieces. Leaving the iteration
early (a client gone: the response task is cancelled) ends the job, so its row leaves
the batch at the next step."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from light_llm.serve.engine import Engine, Job
from light_llm.serve.protocol import Options
from light_llm.serve.text import StopText


class Generation:
    def __init__(self, engine: Engine, prompt: list[int], max_tokens: int, options: Options, decode):
        self.engine = engine
        self.prompt_tokens = len(prompt)
        self.token_ids: list[int] = []
        self._ids_sent = 0
        self.finish_reason: str | None = None
        self._text = StopText(decode, options.stops)
        self._events: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.job = Job(prompt=prompt, max_tokens=max_tokens, sampling=options.sampling,
                       deliver=lambda token, reason: loop.call_soon_threadsafe(
                           self._events.put_nowait, (token, reason)))
        engine.submit(self.job)  # QueueFull → 429

    async def pieces(self) -> AsyncIterator[str]:
        try:
            while self.finish_reason is None:
                token, reason = await self._events.get()
                if token is None:
                    self.finish_reason = reason
                    piece = self._text.flush()
                else:
                    self.token_ids.append(token)
                    piece = self._text.push(token)
                    if self._text.stopped:
                        self.finish_reason = "stop"
                        self.engine.end(self.job, "stop")
                if piece:
                    yield piece
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Ends the job unless it already ended (the client is gone)."""
        if self.finish_reason is None:
            self.finish_reason = "cancelled"
            self.engine.end(self.job, "cancelled")

    async def text(self) -> str:
        return "".join([piece async for piece in self.pieces()])

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)

    def new_token_ids(self) -> list[int]:
        """The ids generated since the last call (for streamed chunks)."""
        new = self.token_ids[self._ids_sent:]
        self._ids_sent = len(self.token_ids)
        return new

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}
