"""Continuous batching: one thread runs the model for every request at once.

Requests wait in a queue until a batch slot is free (at most `max_batch` rows decode
together); each step the thread prefills newcomers as one left-padded batch (at most
`prefill_tokens` positions, at least one newcomer, so running rows wait for one bounded
prefill at a time), joins them to the running rows, and decodes one token for every
row in a single call. A row leaves as soon as it ends (end-of-text, max_tokens, a stop
string or a client gone), so a short request never waits for a long one. One pass
over the weights serves every row: sixteen rows cost far less per step than sixteen
steps of one.

No step copies the KV cache: a graph that writes its present into its past's buffer
(`shares_kv_buffer`: GroupQueryAttention, the fused export) decodes into preallocated
buffers with room for KV_ROOM more steps (copied into larger ones when full, up to
max_seq_len; runtime/kv_buffers.py, as light_llm.runtime decodes); any other graph's presents stay inside onnxruntime for the next step (IO
binding, as light_llm.runtime decodes). Only a join or a leave copies the cache, once
(serve/batch.py). Past `max_batch + max_queue` requests in flight, `submit` refuses
with QueueFull (HTTP 429)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from light_llm.errors import LightLLMError
from light_llm.runtime import Geometry, Sampling, left_pad, next_tokens
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.generator import Run, end_ids
from light_llm.runtime.kv_buffers import buffer_slots, is_full, presents_into
from light_llm.runtime.session import decoding_run
from light_llm.runtime.slot_rotation import SlotRotation
from light_llm.serve.batch import Rows
from light_llm.serve.limits import MAX_BATCH, MAX_QUEUE, PREFILL_TOKENS

log = logging.getLogger("light_llm.serve")

# A job's end: "stop" (end-of-text or a stop string), "length" (max_tokens or the
# context), "cancelled" (the client went away), "error".
Deliver = Callable[[int | None, str | None], None]  # (token, None) per token; (None, reason) once at the end


class QueueFull(LightLLMError):
    """More requests than the batch and the queue hold: answered with HTTP 429."""


@dataclass(eq=False)
class Job:
    prompt: list[int]
    max_tokens: int
    sampling: Sampling
    deliver: Deliver
    generated: int = 0
    finished: bool = False
    ended_by_caller: str | None = None  # set from any thread: the engine drops the row at its next step
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.sampling.seed)


@dataclass
class Stats:
    submitted: int = 0
    rejected: int = 0
    completed: int = 0
    cancelled: int = 0
    generated_tokens: int = 0
    decode_steps: int = 0
    largest_batch: int = 0
    prefills: int = 0  # prefill calls (each for one or more newcomers)
    prefill_seconds: float = 0.0  # engine time in prefill calls, joins included
    decode_seconds: float = 0.0  # engine time in decode steps

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Engine:
    def __init__(self, run: Run, geometry: Geometry, *, eos_id: int | Iterable[int] | None, pad_id: int,
                 max_batch: int = MAX_BATCH, max_queue: int = MAX_QUEUE, prefill_tokens: int = PREFILL_TOKENS,
                 shares_kv_buffer: bool = False, slot_rotation: SlotRotation | None = None):
        """`prefill_tokens`: positions one prefill call holds at most (newcomers × the
        longest prompt among them; one newcomer always goes). `shares_kv_buffer`: `run` is
        an onnxruntime session whose graph writes each present into its past's buffer
        (ServedModel.shares_kv_buffer). `slot_rotation`: the graph's layers that rotate keys by
        slot, turned when a row's cache moves. `eos_id`: the id, or every id, that ends a row ("stop")."""
        if max_batch < 1:
            raise LightLLMError(f"max_batch={max_batch}: allowed: 1 or more")
        if prefill_tokens < 1:
            raise LightLLMError(f"prefill_tokens={prefill_tokens}: allowed: 1 or more")
        if max_queue < 0:
            raise LightLLMError(f"max_queue={max_queue}: allowed: 0 or more")
        self.run, self.geometry = decoding_run(run), geometry
        self._shares_kv_buffer = shares_kv_buffer and geometry.cached
        self._rotation = slot_rotation
        self.end_ids, self.pad_id = end_ids(eos_id), pad_id
        self.max_batch, self.max_queue, self.prefill_tokens = max_batch, max_queue, prefill_tokens
        self.stats = Stats()
        self._waiting: deque[Job] = deque()
        self._in_flight = 0
        self._wake = threading.Condition()
        self._jobs: list[Job] = []  # one per row of _rows
        self._rows: Rows | None = None
        self._pending = np.zeros(0, dtype=np.int64)  # each row's last token, not yet fed
        self._running = False
        self._thread: threading.Thread | None = None

    # --- called from the server's threads -------------------------------------------
    def submit(self, job: Job) -> None:
        with self._wake:
            if self._in_flight >= self.max_batch + self.max_queue:
                self.stats.rejected += 1
                raise QueueFull(f"{self._in_flight} requests in flight: the batch ({self.max_batch}) "
                                f"and the queue ({self.max_queue}) are full; retry later")
            self._in_flight += 1
            self.stats.submitted += 1
            self._waiting.append(job)
            self._wake.notify()

    def end(self, job: Job, reason: str) -> None:
        """Ends `job` early ("stop" or "cancelled"): at once while it waits in the queue,
        else its row leaves at the next step."""
        job.ended_by_caller = job.ended_by_caller or reason
        with self._wake:
            queued = job in self._waiting
            if queued:
                self._waiting.remove(job)
            self._wake.notify()
        if queued:
            self._finish(job, job.ended_by_caller)

    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="light_llm-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the engine thread ------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._waiting and not self._jobs and hasattr(self.run, "release"):
                    self.run.release()  # idle: hold no finished batch's KV cache
                while self._running and not self._waiting and not self._jobs:
                    self._wake.wait()
                if not self._running:
                    return
                newcomers = self._newcomers()
            try:
                self._drop_ended()
                newcomers = [job for job in newcomers if not self._ended_early(job)]
                if newcomers:
                    self._prefill(newcomers)
                if self._jobs:
                    self._decode()
            except Exception:  # a failing model call ends every row it held, not the server
                log.exception("generation failed")
                for job in self._jobs + newcomers:
                    self._finish(job, "error")
                self._jobs, self._rows = [], None
                self._pending = np.zeros(0, dtype=np.int64)

    def _newcomers(self) -> list[Job]:
        """The waiting jobs to prefill now, first come first: as many as free rows and the
        prefill budget allow (the padded batch: count × longest prompt), at least one, so
        running rows get their next token between two prefills."""
        taken: list[Job] = []
        longest = 0
        while self._waiting and len(self._jobs) + len(taken) < self.max_batch:
            longest = max(longest, len(self._waiting[0].prompt))
            if taken and (len(taken) + 1) * longest > self.prefill_tokens:
                break
            taken.append(self._waiting.popleft())
        return taken

    def _ended_early(self, job: Job) -> bool:
        if job.ended_by_caller is None:
            return False
        self._finish(job, job.ended_by_caller)
        return True

    def _finish(self, job: Job, reason: str) -> None:
        if job.finished:
            return
        job.finished = True
        with self._wake:  # the engine thread, or the event loop for a job still queued
            self._in_flight -= 1
            if reason == "cancelled":
                self.stats.cancelled += 1
            else:
                self.stats.completed += 1
        if reason == "cancelled":
            log.info("cancelled after %d tokens (client gone)", job.generated)
        job.deliver(None, reason)

    def _sample(self, jobs: list[Job], logits: np.ndarray) -> np.ndarray:
        tokens = logits.argmax(axis=-1)
        for row, job in enumerate(jobs):
            if not job.sampling.greedy:
                tokens[row] = next_tokens(logits[row:row + 1], job.sampling, job.rng)[0]
        return tokens

    def _prefill(self, jobs: list[Job]) -> None:
        start = time.perf_counter()
        ids, mask = left_pad([job.prompt for job in jobs], self.pad_id)
        outputs = self.run(step_feeds(self.geometry, ids, mask, None))
        past = past_from_presents(outputs, self.geometry) if self.geometry.cached else {}
        rows = Rows(ids=ids, mask=mask, past=past)
        self._advance(jobs, rows, self._sample(jobs, outputs["logits"][:, -1]), joining=True)
        self.stats.prefills += 1
        self.stats.prefill_seconds += time.perf_counter() - start

    def _decode(self) -> None:
        start = time.perf_counter()
        rows = self._rows
        tokens = self._pending[:, None]
        mask = np.concatenate([rows.mask, np.ones_like(tokens)], axis=1)
        ids = np.concatenate([rows.ids, tokens], axis=1)
        if not self.geometry.cached:
            outputs = self.run(step_feeds(self.geometry, ids, mask, None))
            stepped = rows.stepped(ids, mask, {})
        elif rows.capacity is not None:  # the graph writes the new keys and values in place
            if is_full(rows.width, rows.capacity):
                rows = Rows.stacked([rows], self._room(rows.width))
            buffers = rows.buffers()
            outputs = self.run(step_feeds(self.geometry, tokens, mask, buffers), into=presents_into(buffers))
            stepped = rows.stepped(ids, mask)
        else:
            outputs = self.run(step_feeds(self.geometry, tokens, mask, rows.past))
            stepped = rows.stepped(ids, mask, past_from_presents(outputs, self.geometry))
        self.stats.decode_steps += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(self._jobs))
        self._advance(self._jobs, stepped, self._sample(self._jobs, outputs["logits"][:, -1]), joining=False)
        self.stats.decode_seconds += time.perf_counter() - start

    def _room(self, width: int) -> int | None:
        """Slots of the shared KV buffers for rows `width` wide (None: not shared)."""
        return buffer_slots(width, self.geometry.max_seq_len) if self._shares_kv_buffer else None

    def _advance(self, jobs: list[Job], rows: Rows, tokens: np.ndarray, joining: bool) -> None:
        """Hands each row its new token, then keeps the rows that go on."""
        keep = np.ones(len(jobs), dtype=bool)
        lengths = rows.lengths()
        for row, (job, token) in enumerate(zip(jobs, tokens.tolist())):
            if token in self.end_ids:
                keep[row] = False
                self._finish(job, "stop")
                continue
            job.generated += 1
            self.stats.generated_tokens += 1
            job.deliver(token, None)
            if job.generated >= job.max_tokens or lengths[row] + 1 > self.geometry.max_seq_len:
                keep[row] = False
                self._finish(job, "length")
        kept_jobs = [job for job, kept in zip(jobs, keep) if kept]
        kept_rows = rows.kept(keep, self._rotation) if kept_jobs else None
        kept_tokens = tokens[keep].astype(np.int64)
        if not joining:
            self._jobs, self._rows, self._pending = kept_jobs, kept_rows, kept_tokens
        elif kept_jobs:
            parts = [kept_rows] if self._rows is None else [self._rows, kept_rows]
            self._rows = Rows.stacked(parts, self._room(max(part.width for part in parts)), self._rotation)
            self._jobs = self._jobs + kept_jobs
            self._pending = np.concatenate([self._pending, kept_tokens])

    def _drop_ended(self) -> None:
        ended = [job.ended_by_caller is not None for job in self._jobs]
        if not any(ended):
            return
        keep = ~np.array(ended)
        for job, gone in zip(self._jobs, ended):
            if gone:
                self._finish(job, job.ended_by_caller)
        self._jobs = [job for job, kept in zip(self._jobs, keep) if kept]
        self._rows = self._rows.kept(keep, self._rotation) if self._jobs else None
        self._pending = self._pending[keep]
