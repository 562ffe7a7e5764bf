"""`lightllm serve` against the official `openai` client: the same greedy tokens as
light_llm.runtime, streamed or not, from many clients at once; 400, 429, 401; a client
that goes away mid-stream stops its generation. The server runs in a subprocess where
importing torch fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from serve_helpers import CONTEXT, client, greedy, post_and_keep_open, running_server

from light_llm.runtime import load_export

PROMPTS = ["Hello", "def main():", "import os\n", "a much longer prompt than the others, to pad", "x", "¿qué?"]


@pytest.fixture(scope="module")
def model(serve_export):
    return load_export(serve_export)


@pytest.fixture(scope="module")
def server(serve_export, tmp_path_factory):
    with running_server(serve_export, tmp_path_factory.mktemp("server")) as url:
        yield url


def stats(url: str) -> dict:
    return httpx.get(url + "/light_llm/stats").json()


def test_completion_equals_runtime_greedy(server, model) -> None:
    answer = client(server).completions.create(model="any", prompt="def main():", max_tokens=24,
                                               temperature=0, extra_body={"return_token_ids": True})
    choice = answer.choices[0]
    expected = greedy(model, "def main():", 24)
    assert choice.token_ids == expected
    assert choice.text == model.decode(expected)
    assert answer.usage.prompt_tokens == len(model.encode("def main():"))
    assert answer.usage.completion_tokens == len(expected)
    assert choice.finish_reason == ("length" if len(expected) == 24 else "stop")


def test_streamed_completion_equals_runtime_greedy(server, model) -> None:
    chunks = list(client(server).completions.create(
        model="any", prompt="import os\n", max_tokens=30, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"return_token_ids": True}))
    expected = greedy(model, "import os\n", 30)
    ids = [token for chunk in chunks for choice in chunk.choices for token in choice.token_ids]
    assert ids == expected
    assert "".join(choice.text for chunk in chunks for choice in chunk.choices) == model.decode(expected)
    assert len([chunk for chunk in chunks if chunk.choices]) > 2  # pieces, not one block
    assert chunks[-1].usage.completion_tokens == len(expected)


def test_chat_uses_the_plain_template(server, model) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    prompt = "system: Be brief.\nuser: hi\nassistant:"
    expected = greedy(model, prompt, 16)
    answer = client(server).chat.completions.create(model="any", messages=messages, max_tokens=16,
                                                    temperature=0, extra_body={"return_token_ids": True})
    assert answer.choices[0].token_ids == expected
    assert answer.choices[0].message.content == model.decode(expected)
    stream = client(server).chat.completions.create(model="any", messages=messages, max_tokens=16,
                                                    temperature=0, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == model.decode(expected)


def test_seeded_sampling_is_reproducible(server) -> None:
    def sample(seed: int) -> str:
        return client(server).completions.create(model="any", prompt="Hello", max_tokens=20, temperature=1.0,
                                                 top_p=0.9, seed=seed).choices[0].text
    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in range(4)}) > 1


def test_models_lists_the_folder(server, serve_export) -> None:
    models = client(server).models.list().data
    assert [entry.id for entry in models] == [serve_export.name]


def test_concurrent_clients_get_their_own_tokens(server, model) -> None:
    jobs = [(PROMPTS[i % len(PROMPTS)], 20 + 7 * i, i % 2 == 0) for i in range(12)]

    def ask(job) -> list[int]:
        prompt, max_tokens, stream = job
        answer = client(server).completions.create(model="any", prompt=prompt, max_tokens=max_tokens,
                                                   temperature=0, stream=stream,
                                                   extra_body={"return_token_ids": True})
        choices = [choice for chunk in answer for choice in chunk.choices] if stream else answer.choices
        return [token for choice in choices for token in choice.token_ids]

    before = stats(server)
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(ask, jobs))
    for (prompt, max_tokens, _), ids in zip(jobs, answers):
        assert ids == greedy(model, prompt, max_tokens), prompt
    after = stats(server)
    assert after["completed"] - before["completed"] == len(jobs)
    assert after["largest_batch"] > 1  # decoded together, not one after the other


def test_too_long_for_the_context_is_400(server, model) -> None:
    with pytest.raises(openai.BadRequestError, match=f"context of {CONTEXT} tokens"):
        client(server).completions.create(model="any", prompt="Hello", max_tokens=CONTEXT)
    with pytest.raises(openai.BadRequestError, match="n: got 2"):
        client(server).completions.create(model="any", prompt="Hello", n=2)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client(server).completions.create(model="any", prompt="Hello", temperature=-1)


@pytest.mark.parametrize("field, value", [
    ("logprobs", 2), ("echo", True), ("presence_penalty", 0.5), ("frequency_penalty", 0.5),
    ("logit_bias", {"1": 5}), ("best_of", 2),
])
def test_a_completion_field_light_llm_does_not_implement_is_400(server, field, value) -> None:
    with pytest.raises(openai.BadRequestError, match=f"{field}: got .* not supported by lightllm serve") as refused:
        client(server).completions.create(model="any", prompt="Hello", max_tokens=2, **{field: value})
    assert refused.value.body["param"] == field


def test_a_chat_field_light_llm_does_not_implement_is_400(server) -> None:
    messages = [{"role": "user", "content": "hi"}]
    for fields in ({"logprobs": True, "top_logprobs": 2}, {"presence_penalty": 1.0}, {"tools": []}):
        with pytest.raises(openai.BadRequestError, match=f"{next(iter(fields))}: .*not supported by lightllm serve"):
            client(server).chat.completions.create(model="any", messages=messages, max_tokens=2, **fields)
    answer = client(server).chat.completions.create(model="any", messages=messages, max_tokens=2, logprobs=False,
                                                    presence_penalty=0, frequency_penalty=0, user="someone")
    assert answer.usage.completion_tokens >= 1


def test_disconnect_mid_stream_stops_generation(server) -> None:
    before = stats(server)
    max_tokens = CONTEXT - 10
    with httpx.stream("POST", server + "/completions", timeout=60,
                      json={"prompt": "Hello", "max_tokens": max_tokens, "temperature": 0, "stream": True}) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
    deadline = time.monotonic() + 20
    while stats(server)["cancelled"] == before["cancelled"]:
        assert time.monotonic() < deadline, "the server did not notice the client leave"
        time.sleep(0.05)
    after = stats(server)
    assert after["generated_tokens"] - before["generated_tokens"] < max_tokens
    assert after["in_flight"] == 0


def wait_for(url: str, condition, what: str) -> dict:
    deadline = time.monotonic() + 20
    while not condition(now := stats(url)):
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
    return now


def assert_ended_early(url: str, before: dict, max_tokens: int) -> None:
    """The one request since `before` was cancelled with fewer than max_tokens generated."""
    after = wait_for(url, lambda now: now["cancelled"] > before["cancelled"], "the server did not notice the client leave")
    assert after["generated_tokens"] - before["generated_tokens"] < max_tokens
    after = wait_for(url, lambda now: now["in_flight"] == 0, "a row stayed in flight")
    assert after["completed"] == before["completed"]


@pytest.mark.parametrize("path, body", [
    ("/completions", {"prompt": "Hello"}),
    ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),  # no end-of-text for long
])
def test_non_streamed_client_that_leaves_stops_generation(server, path, body) -> None:
    before = stats(server)
    max_tokens = CONTEXT - 40  # the chat template's tokens fit beside it
    sock = post_and_keep_open(server, path, {**body, "max_tokens": max_tokens, "temperature": 0})
    wait_for(server, lambda now: now["generated_tokens"] > before["generated_tokens"], "no token generated")
    sock.close()
    assert_ended_early(server, before, max_tokens)


def test_queued_client_that_leaves_before_the_first_byte_leaves_the_queue(serve_export, tmp_path) -> None:
    """With one batch row busy for a while, a streamed request that waits in the queue and
    whose client leaves before any byte is dropped from the queue at once, never prefilled."""
    with running_server(serve_export, tmp_path, "--max-batch", "1") as url:
        busy = [post_and_keep_open(url, "/completions", {"prompt": prompt, "max_tokens": CONTEXT - 60, "temperature": 0})
                for prompt in PROMPTS[1:]]  # greedy: a few hundred steps each, one request at a time
        wait_for(url, lambda now: now["submitted"] == len(busy), "the busy requests did not arrive")
        body = {"prompt": "Hello", "max_tokens": 8, "temperature": 0, "stream": True}
        leaving = post_and_keep_open(url, "/completions", body)
        wait_for(url, lambda now: now["submitted"] == len(busy) + 1, "the streamed request did not arrive")
        leaving.close()
        now = wait_for(url, lambda now: now["cancelled"] == 1, "the queued request was not cancelled")
        assert now["completed"] < len(busy) and now["in_flight"] >= 1  # before the busy ones were done
        for sock in busy:
            sock.close()
        wait_for(url, lambda now: now["in_flight"] == 0, "rows stayed in flight")


def test_streamed_client_that_leaves_before_reading_stops_generation(server) -> None:
    before = stats(server)
    max_tokens = CONTEXT - 20
    body = {"prompt": "Hello", "max_tokens": max_tokens, "temperature": 0, "stream": True}
    sock = post_and_keep_open(server, "/completions", body)
    wait_for(server, lambda now: now["submitted"] > before["submitted"], "the request did not arrive")
    sock.close()
    assert_ended_early(server, before, max_tokens)


def test_full_queue_answers_429(serve_export, model, tmp_path) -> None:
    with running_server(serve_export, tmp_path, "--max-batch", "1", "--max-queue", "1") as url:
        def ask(prompt: str):
            try:
                return client(url).completions.create(model="any", prompt=prompt, max_tokens=CONTEXT - 60,
                                                      temperature=0, extra_body={"return_token_ids": True})
            except openai.RateLimitError as error:
                return error

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(ask, PROMPTS))
        refused = [answer for answer in answers if isinstance(answer, openai.RateLimitError)]
        assert refused and "the batch (1) and the queue (1) are full" in str(refused[0])
        for prompt, answer in zip(PROMPTS, answers):
            if not isinstance(answer, openai.RateLimitError):
                assert answer.choices[0].token_ids == greedy(model, prompt, CONTEXT - 60)
        assert stats(url)["rejected"] == len(refused)


def test_a_template_that_refuses_the_messages_is_400(serve_export, model, tmp_path) -> None:
    folder = tmp_path / "onnx"
    shutil.copytree(serve_export, folder, copy_function=os.link)  # the same files, a template of its own
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system turns') }}{% endif %}"
        "<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>")
    with running_server(folder, tmp_path) as url:
        with pytest.raises(openai.BadRequestError, match="the chat template raised: no system turns"):
            client(url).chat.completions.create(model="any", messages=[{"role": "system", "content": "x"}])
        answer = client(url).chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}],
                                                     max_tokens=8, temperature=0,
                                                     extra_body={"return_token_ids": True})
    assert answer.choices[0].token_ids == greedy(model, "<user>hi<assistant>", 8)


def test_api_key_is_required_on_every_request(serve_export, tmp_path) -> None:
    with running_server(serve_export, tmp_path, "--api-key", "s3cret") as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").completions.create(model="any", prompt="Hello", max_tokens=2)
        assert httpx.get(url + "/models").status_code == 401
        assert httpx.get(url + "/light_llm/stats").status_code == 401
        assert client(url, "s3cret").completions.create(model="any", prompt="Hello", max_tokens=2).usage.total_tokens


def test_run_folder_is_served_eagerly(serve_export, model, tmp_path) -> None:
    with running_server(serve_export.parent / "run", tmp_path, torch=True) as url:
        answer = client(url).completions.create(model="any", prompt="Hello", max_tokens=12, temperature=0,
                                                extra_body={"return_token_ids": True})
    assert answer.choices[0].token_ids == greedy(model, "Hello", 12)


@pytest.mark.parametrize("options, message", [
    (["--max-batch", "0"], "--max-batch 0: allowed: an integer >= 1"),
    (["--max-queue", "-1"], "--max-queue -1: allowed: an integer >= 0"),
    (["--prefill-tokens", "0"], "--prefill-tokens 0: allowed: an integer >= 1"),
    (["--port", "70000"], "--port 70000: allowed: 0..65535"),
])
def test_cli_refuses_bad_options(serve_export, options, message) -> None:
    done = subprocess.run([sys.executable, "-c", "from light_llm.cli.app import main; main()", "serve",
                           str(serve_export), *options], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {message}"


def test_cli_refuses_a_missing_folder(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", "from light_llm.cli.app import main; main()", "serve",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such folder; allowed: an export folder or a model/run folder"


def test_stop_string_ends_the_answer(server, model) -> None:
    text = model.decode(greedy(model, "import os\n", 40))
    start = next(i for i, char in enumerate(text) if i > 0 and char != "\ufffd" and text[i + 1:i + 2] not in ("", "\ufffd"))
    stop = text[start:start + 2]
    expected = text[:text.find(stop)]
    for stream in (False, True):
        answer = client(server).completions.create(model="any", prompt="import os\n", max_tokens=40, temperature=0,
                                                   stop=[stop, "never appears"], stream=stream)
        chunks = list(answer) if stream else [answer]
        assert "".join(choice.text for chunk in chunks for choice in chunk.choices) == expected
        assert chunks[-1].choices[0].finish_reason == "stop"


def test_web_page_needs_no_api_key(serve_export) -> None:
    done = subprocess.run([sys.executable, "-c", "from light_llm.cli.app import main; main()", "serve",
                           str(serve_export), "--web", "--api-key", "k"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: --web with --api-key: a browser loads the page without the key")
