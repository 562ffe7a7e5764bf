"""The request fields of serve/protocol.py: every field is read or refused with a 400 that
names it, never dropped silently; OpenAI's fields light_llm does not implement pass only at
the values that leave them off."""

from __future__ import annotations

import pytest

from light_llm.serve.protocol import BadRequest, options

COMPLETION = {"model": "any", "prompt": "Hello"}
CHAT = {"model": "any", "messages": [{"role": "user", "content": "hi"}]}


def completion_options(**fields):
    return options({**COMPLETION, **fields}, ("max_tokens",), own=("prompt",))


def chat_options(**fields):
    return options({**CHAT, **fields}, ("max_completion_tokens", "max_tokens"), own=("messages",))


@pytest.mark.parametrize("field, value", [
    ("logprobs", True), ("logprobs", 0), ("logprobs", 5), ("top_logprobs", 3), ("echo", True),
    ("presence_penalty", 0.5), ("frequency_penalty", -1), ("frequency_penalty", False),
    ("logit_bias", {"50256": -100}), ("best_of", 2), ("suffix", "end"),
])
def test_an_unimplemented_field_in_use_is_refused_by_name(field, value):
    for build in (completion_options, chat_options):
        with pytest.raises(BadRequest, match=f"^{field}: got .*not supported by lightllm serve") as refused:
            build(**{field: value})
        assert refused.value.param == field


@pytest.mark.parametrize("field, value", [
    ("logprobs", None), ("logprobs", False), ("echo", False), ("presence_penalty", 0), ("presence_penalty", 0.0),
    ("frequency_penalty", 0.0), ("logit_bias", {}), ("logit_bias", None), ("best_of", 1), ("user", "someone"),
])
def test_an_unimplemented_field_left_off_is_accepted(field, value):
    assert completion_options(**{field: value}).max_tokens is None


@pytest.mark.parametrize("field", ["tools", "response_format", "no_such_field"])
def test_an_unknown_field_is_refused_by_name(field):
    with pytest.raises(BadRequest, match=f"^{field}: not supported by lightllm serve; leave it out"):
        chat_options(**{field: {"type": "json_object"}})


def test_each_endpoint_reads_only_its_own_fields():
    assert chat_options(max_completion_tokens=5).max_tokens == 5
    with pytest.raises(BadRequest, match="^max_completion_tokens: not supported"):
        completion_options(max_completion_tokens=5)
    with pytest.raises(BadRequest, match="^messages: not supported"):
        completion_options(messages=[])
    with pytest.raises(BadRequest, match="^prompt: not supported"):
        chat_options(prompt="Hello")
