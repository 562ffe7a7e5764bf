"""The OpenAI request bodies light_llm understands, checked by hand into plain values:
each mistake is a BadRequest naming the field and what is allowed (HTTP 400)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from light_llm.errors import LightLLMError
from light_llm.runtime import Sampling

MAX_STOPS = 4

# The fields of both endpoints that light_llm reads (or, for `model`, `user` and `metadata`,
# that do not change the answer: one model is served).
SHARED_FIELDS = frozenset({"model", "n", "temperature", "top_p", "seed", "stop", "stream", "stream_options",
                           "return_token_ids", "user", "metadata"})
# OpenAI fields light_llm does not implement, accepted only at the values that leave them off
# (what clients may send by default); any other value is a 400 naming the field.
OFF_VALUES: dict[str, tuple] = {
    "logprobs": (None, False), "top_logprobs": (None, 0), "echo": (None, False),
    "presence_penalty": (None, 0), "frequency_penalty": (None, 0), "logit_bias": (None, {}),
    "best_of": (None, 1), "suffix": (None, ""), "store": (None, False),
}


class BadRequest(LightLLMError):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Options:
    max_tokens: int | None  # None: up to the context
    sampling: Sampling
    stops: list[str]
    stream: bool
    include_usage: bool
    return_token_ids: bool = False  # light_llm's (and vLLM's) extension: the generated ids beside the text


def _number(body: dict, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"{name}: got {value!r}; allowed: a number from {low} to {high}", name)
    return float(value)


def _integer(body: dict, name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"{name}: got {value!r}; allowed: an integer >= {low}", name)
    return value


def refuse_unread_fields(body: dict, own: tuple[str, ...]) -> None:
    """A BadRequest for the first field that would be ignored: light_llm answers every
    field it is sent or refuses it, never drops one silently."""
    for name, value in body.items():
        if name in SHARED_FIELDS or name in own:
            continue
        if name not in OFF_VALUES:
            raise BadRequest(f"{name}: not supported by lightllm serve; leave it out", name)
        if not any(value == off and isinstance(value, bool) == isinstance(off, bool) for off in OFF_VALUES[name]):
            allowed = " or ".join(json.dumps(off) for off in OFF_VALUES[name])
            raise BadRequest(f"{name}: got {_short(value)}; not supported by lightllm serve (allowed: {allowed})", name)


def options(body: dict, max_tokens_names: tuple[str, ...], own: tuple[str, ...]) -> Options:
    """The fields shared by /v1/completions and /v1/chat/completions; `own`: the fields of the
    endpoint itself (its prompt or messages)."""
    refuse_unread_fields(body, (*max_tokens_names, *own))
    n = body.get("n", 1)
    if n != 1:
        raise BadRequest(f"n: got {n!r}; allowed: 1 (one choice per request)", "n")
    max_tokens = next((value for value in (_integer(body, name, 1) for name in max_tokens_names)
                       if value is not None), None)
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise BadRequest("top_p: got 0; allowed: 0 < top_p <= 1", "top_p")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(f"seed: got {seed!r}; allowed: an integer", "seed")
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > MAX_STOPS or not all(isinstance(s, str) for s in stops):
        raise BadRequest(f"stop: got {stop!r}; allowed: a string or a list of at most {MAX_STOPS} strings", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest(f"stream: got {stream!r}; allowed: true or false", "stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise BadRequest(f"stream_options: got {stream_options!r}; allowed: an object", "stream_options")
    return Options(max_tokens=max_tokens, sampling=Sampling(temperature=temperature, top_p=top_p, seed=seed),
                   stops=stops, stream=stream, include_usage=bool(stream_options.get("include_usage")),
                   return_token_ids=body.get("return_token_ids") is True)


def completion_prompt(body: dict) -> str | list[int]:
    """The one prompt of a /v1/completions body: text or token ids."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, str) and prompt:
        return prompt
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        return prompt
    raise BadRequest(f"prompt: got {_short(prompt)}; allowed: one non-empty string or one list of token ids", "prompt")


def chat_messages(body: dict) -> list[dict]:
    """The messages of a /v1/chat/completions body, each content as one string."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(f"messages: got {_short(messages)}; allowed: a non-empty list of messages", "messages")
    checked = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"{where}: got {_short(message)}; allowed: an object with a role and a content", where)
        checked.append({"role": message["role"], "content": _content(message.get("content"), where)})
    return checked


def _content(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(part, dict) and part.get("type") == "text" for part in content):
        return "".join(str(part.get("text", "")) for part in content)
    raise BadRequest(f"{where}.content: got {_short(content)}; allowed: a string or a list of text parts",
                     f"{where}.content")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
