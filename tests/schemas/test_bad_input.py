"""Files that are not specs at all: each is one clear line, fast, never a crash."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from light_llm.schemas.errors import SpecError
from light_llm.schemas.load import load_spec
from light_llm.schemas.read import MAX_DEPTH, MAX_SPEC_BYTES


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one_line_error(path: Path) -> str:
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert time.monotonic() - started < 10, "a bad file must not hang"
    text = str(caught.value)
    assert "\n" not in text, text
    assert text.startswith(f"{path}: ")
    return text


def test_missing_file(tmp_path: Path) -> None:
    assert one_line_error(tmp_path / "nope.yaml").endswith("no such file")


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in one_line_error(tmp_path)


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    assert "file is empty" in one_line_error(write(tmp_path, "empty.yaml", content))


def test_binary_garbage(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 8
    assert "binary data" in one_line_error(write(tmp_path, "garbage.yaml", garbage))


def test_not_utf8(tmp_path: Path) -> None:
    assert "not UTF-8 text (byte 0xe9" in one_line_error(
        write(tmp_path, "latin1.yaml", "model: {name: café}".encode("latin-1"))
    )


def test_50_megabyte_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: 50 MB on paper, nothing written
        handle.truncate(50 * 1024 * 1024)
    message = one_line_error(path)
    assert (
        "too large" in message
        and "52,428,800 bytes" in message
        and f"{MAX_SPEC_BYTES:,}" in message
    )


def test_just_over_the_limit_with_real_content(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", "model: {}\n" + "#" * MAX_SPEC_BYTES)
    assert "too large" in one_line_error(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_special_file_is_cut_at_the_limit() -> None:
    with pytest.raises(SpecError, match="too large"):
        load_spec("/dev/zero")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.json", "[" * 10_000 + "]" * 10_000),
        ("deep_objects.json", '{"a":' * 10_000 + "1" + "}" * 10_000),
        ("deep.yaml", "[" * 10_000 + "]" * 10_000),
        ("deep_block.yaml", "".join(" " * depth + "a:\n" for depth in range(200))),
    ],
)
def test_deep_nesting(tmp_path: Path, name: str, content: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels at line" in one_line_error(
        write(tmp_path, name, content)
    )


def test_deep_dict_input_is_refused() -> None:
    data: dict = {}
    node = data
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(SpecError, match="nested deeper than"):
        load_spec({"model": data})


def test_yaml_alias_bomb(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    message = one_line_error(write(tmp_path, "bomb.yaml", "\n".join([*lines, "model: {}"])))
    assert "too many values" in message


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{\n  "model": {\n    "d_model": 64,\n  }\n}')
    assert "invalid JSON at line 4, column 3" in one_line_error(path)


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "model:\n  d_model: 64\n   num_layers: 2\n")
    assert "invalid YAML at line 3, column 14" in one_line_error(path)


def test_yaml_tabs_report_line_and_column(tmp_path: Path) -> None:
    assert "invalid YAML at line 2" in one_line_error(
        write(tmp_path, "tabs.yaml", "model:\n\td_model: 64\n")
    )


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        (
            "dup.yaml",
            "model:\n  d_model: 64\n  d_model: 32\n",
            "line 3, column 3: key 'd_model' appears twice",
        ),
        ("dup.json", '{"model": {"d_model": 64, "d_model": 32}}', "key 'd_model' appears twice"),
        ("two.yaml", "model: {}\n---\nmodel: {}\n", "expected a single document"),
        ("list.yaml", "- model\n", "got a list"),
        ("text.yaml", "just some words\n", "got a string"),
        (
            "unsafe.yaml",
            "model: !!python/object/apply:os.system ['true']\n",
            "invalid YAML at line 1",
        ),
    ],
)
def test_other_unusable_files(tmp_path: Path, name: str, content: str, words: str) -> None:
    assert words in one_line_error(write(tmp_path, name, content))


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    content = "model:\n  d_model: 64\n  attention:\n    <<: {num_heads: 4}\n    num_kv_heads: 2\n"
    assert load_spec(write(tmp_path, "merge.yaml", content)).model.attention.num_heads == 4


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("model:\n  on: 1\n", "key True (bool) is not a string"),
        ("model:\n  d_model: .nan\n", "got nan; allowed: a finite number"),
    ],
)
def test_values_yaml_reads_surprisingly(tmp_path: Path, content: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, "odd.yaml", content))
    assert words in str(caught.value)
