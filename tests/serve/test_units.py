"""The server's pieces without a server: stop strings over streamed text, and rows that
join and leave a batch keeping each row's tokens, mask and cache aligned."""

from __future__ import annotations

import numpy as np
import pytest

from light_llm.serve.batch import Rows
from light_llm.serve.text import IncrementalDecode, StopText


def _stream(text: str, stops: list[str]) -> tuple[list[str], str]:
    """Feeds `text` one character per token; (pieces sent, what flush adds)."""
    stream = StopText(lambda ids: "".join(chr(i) for i in ids), stops)
    pieces = [stream.push(ord(c)) for c in text]
    if stream.stopped:
        return pieces, ""
    return pieces, stream.flush()


def test_stop_string_ends_the_text_before_it() -> None:
    pieces, rest = _stream("hello, world. more", ["world", "zzz"])
    assert "".join(pieces) + rest == "hello, "


def test_text_that_may_become_a_stop_is_held_back_then_released() -> None:
    pieces, rest = _stream("abXYc", ["XYZ"])
    assert pieces == ["a", "b", "", "", "XYc"]
    assert rest == ""


def test_partial_character_is_held_back() -> None:
    stream = StopText(lambda ids: bytes(ids).decode("utf-8", errors="replace"), [])
    assert stream.push(0xC3) == ""
    assert stream.push(0xA9) == "é"


def _tokenizer(kind: str):
    from tokenizers import Tokenizer, decoders, models

    if kind == "metaspace":  # sentencepiece-like: the decoder drops the text's leading space
        words = ["▁hello", "▁wor", "ld", "▁¿", "qué", "?", "▁a", "b"]
        tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="b"))
        tokenizer.decoder = decoders.Metaspace()
        return tokenizer
    from light_llm.tokenizer import byte_tokenizer

    return byte_tokenizer()  # one token per byte: a character may span several tokens


@pytest.mark.parametrize("kind, text", [("metaspace", None), ("bytes", "¿qué? 😀 naïve\ndef f(): ∑")])
def test_incremental_pieces_add_up_to_the_whole_decoded_text(kind, text) -> None:
    tokenizer = _tokenizer(kind)
    ids = list(range(8)) * 3 if text is None else tokenizer.encode(text).ids
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    stream = IncrementalDecode(decode)
    pieces = [stream.push(token) for token in ids]
    assert "".join(pieces) + stream.rest() == decode(ids)
    assert text is None or "" in pieces  # a character split over tokens waited for its last byte
    calls = []
    counted = IncrementalDecode(lambda window: calls.append(len(window)) or decode(window))
    for token in ids:
        counted.push(token)
    assert max(calls) <= 8  # a short window per token, not the whole answer


def _rows(lengths: list[int], width: int, base: int) -> Rows:
    mask = np.zeros((len(lengths), width), dtype=np.int64)
    for row, length in enumerate(lengths):
        mask[row, width - length:] = 1
    ids = np.where(mask == 1, base + np.arange(width), 0)
    cache = (ids * mask)[:, None, :, None].astype(np.float32)
    return Rows(ids=ids, mask=mask, past={"k": cache})


def test_rows_join_left_padded_and_leave_compacted() -> None:
    joined = _rows([2, 3], 3, 100).joined(_rows([5], 5, 200))
    assert joined.width == 5
    assert joined.lengths().tolist() == [2, 3, 5]
    assert joined.ids[0].tolist() == [0, 0, 0, 101, 102]
    assert joined.past["k"][2, 0, :, 0].tolist() == [200, 201, 202, 203, 204]
    kept = joined.kept(np.array([True, True, False]))
    assert kept.width == 3  # the slots only the long row attended are gone
    assert kept.ids.tolist() == [[0, 101, 102], [100, 101, 102]]
    assert kept.past["k"][:, 0, :, 0].tolist() == [[0, 101, 102], [100, 101, 102]]


def test_chat_template_of_the_tokenizer_folder_is_used(tmp_path) -> None:
    import json

    from light_llm.chat_template import load_chat_template

    assert load_chat_template(tmp_path).render([{"role": "user", "content": "hi"}]) == "user: hi\nassistant:"
    template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}<|assistant|>"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": template, "eos_token": "</s>"}))
    rendered = load_chat_template(tmp_path).render([{"role": "user", "content": "hi"}])
    assert rendered == "<|user|>hi</s><|assistant|>"


def test_rows_that_all_stay_are_not_copied_and_onnxruntime_caches_join() -> None:
    import onnxruntime as ort

    rows = _rows([2, 3], 3, 100)
    assert rows.kept(np.array([True, True])) is rows
    as_ort = Rows(ids=rows.ids, mask=rows.mask, past={"k": ort.OrtValue.ortvalue_from_numpy(rows.past["k"])})
    joined = as_ort.joined(_rows([5], 5, 200)).kept(np.array([True, False, True]))
    assert joined.ids.tolist() == [[0, 0, 0, 0, 101, 102][1:], [200, 201, 202, 203, 204]]
    assert joined.past["k"][:, 0, :, 0].tolist() == joined.ids.tolist()


def test_a_missing_tool_skips_outside_ci_and_fails_under_it(monkeypatch) -> None:
    from serve_helpers import CI_VARIABLE, skip_unless_ci

    monkeypatch.delenv(CI_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        skip_unless_ci("chromium is missing")
    monkeypatch.setenv(CI_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing .LIGHTLLM_CI is set: CI must run this test"):
        skip_unless_ci("chromium is missing")


def test_ci_sets_the_variable_that_makes_missing_tools_fail() -> None:
    from pathlib import Path

    from serve_helpers import CI_VARIABLE

    script = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert f"export {CI_VARIABLE}=1" in script
    assert script.index(f"export {CI_VARIABLE}=1") < script.index("python -m pytest")
