"""Corpus sources: the standard library in a fixed order and capped, files, folders,
globs and JSONL, and the errors for missing or empty sources."""

from __future__ import annotations

import json

import pytest

from light_llm.schemas.data import DataConfig
from light_llm.train.corpus import CorpusError, read_corpus, stdlib_files


def test_stdlib_corpus_is_sorted_capped_and_stable() -> None:
    files = stdlib_files()
    assert len(files) > 500 and all(file.suffix == ".py" for file in files)
    assert not any("site-packages" in str(file) for file in files)
    first = read_corpus(DataConfig(max_corpus_bytes=50_000))
    again = read_corpus(DataConfig(max_corpus_bytes=50_000))
    assert first.num_bytes == 50_000
    assert sum(len(doc.encode()) for doc in first.documents) == 50_000
    assert first.documents == again.documents and first.fingerprint == again.fingerprint
    assert first.documents[0] == files[0].read_bytes().decode("utf-8", errors="replace")[:len(first.documents[0])]
    assert read_corpus(DataConfig(max_corpus_bytes=60_000)).fingerprint != first.fingerprint


def test_files_folders_globs_and_jsonl(tmp_path, text_corpus) -> None:
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(json.dumps({"text": "first record"}) + "\n\n" + json.dumps({"text": "second", "id": 2}) + "\n")
    (text_corpus / ".hidden.txt").write_text("hidden")
    (text_corpus / "image.bin").write_bytes(b"\x89PNG\0\0binary")
    folder = read_corpus(DataConfig(corpus=str(text_corpus), max_corpus_bytes=None))
    assert len(folder.documents) == 4 and "hidden" not in "".join(folder.documents)
    globbed = read_corpus(DataConfig(corpus=str(text_corpus / "doc[12].txt")))
    assert globbed.documents == folder.documents[1:3]
    mixed = read_corpus(DataConfig(corpus=[str(jsonl), str(text_corpus / "doc0.txt")]))
    assert mixed.documents == ["first record", "second", folder.documents[0]]


@pytest.mark.parametrize(
    ("corpus", "message"),
    [
        ("missing/folder", "missing/folder: no such file or folder"),
        ("nothing/*.txt", "matches no files"),
    ],
)
def test_missing_sources_are_clear_errors(tmp_path, monkeypatch, corpus, message) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError, match=message):
        read_corpus(DataConfig(corpus=corpus))


def test_an_empty_list_of_sources_is_refused_when_the_spec_loads() -> None:
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.load import load_spec

    with pytest.raises(SpecError, match=r"data.corpus: got \[\]; allowed: "):
        load_spec({"model": {}, "data": {"corpus": []}})


def test_a_file_that_is_not_utf8_is_refused_with_a_count(tmp_path) -> None:
    (tmp_path / "latin1.txt").write_bytes("naïve café".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 0xef at offset 2; 2 undecodable bytes in all\)"):
        read_corpus(DataConfig(corpus=str(tmp_path / "latin1.txt")))


def test_empty_corpus_and_bad_jsonl_are_clear_errors(tmp_path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError, match="holds no text; the corpus is empty"):
        read_corpus(DataConfig(corpus=str(tmp_path / "empty.txt")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"body": "no text"}) + "\n")
    with pytest.raises(CorpusError, match=r"bad.jsonl:2: .*string 'text' field"):
        read_corpus(DataConfig(corpus=str(bad)))
