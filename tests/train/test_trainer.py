"""The Trainer in one process: it learns, it is reproducible, accumulation and bf16
work, and RUN ends up a model folder."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import final_weights, metric_records, tiny_spec, tiny_spec_dict

from light_llm.model_folder import load_model_folder
from light_llm.schemas.load import load_spec
from light_llm.train.data import unigram_entropy
from light_llm.train.trainer import Trainer


def test_a_tiny_model_learns_far_below_the_unigram_entropy(tmp_path) -> None:
    spec = load_spec(
        {
            "spec_version": 1,
            "model": {"name": "transformer", "d_model": 64, "num_layers": 2, "max_seq_len": 64, "attention": {"num_heads": 4}},
            "data": {"corpus": "stdlib", "max_corpus_bytes": 300_000, "validation_fraction": 0.1},
            "train": {"steps": 100, "batch_size": 16, "learning_rate": 3e-3, "warmup_steps": 10, "eval_every": 50, "eval_batches": 4},
        }
    )
    summary = Trainer(spec, tmp_path / "run").train()
    import numpy as np

    validation = np.memmap(tmp_path / "run/data/tokens.bin", dtype=np.uint16, mode="r")[-30_000:]
    entropy = unigram_entropy(validation, 258)
    losses = metric_records(tmp_path / "run", "loss")
    assert losses[0] > entropy + 1.0  # starts near ln(258) = 5.55
    assert summary.validation_loss < entropy - 0.5, (summary.validation_loss, entropy)
    assert metric_records(tmp_path / "run", "val_loss")[-1] == pytest.approx(summary.validation_loss)


def test_equal_seeds_give_equal_weights_and_the_run_is_a_model_folder(tmp_path) -> None:
    Trainer(tiny_spec(steps=4), tmp_path / "a").train()
    Trainer(tiny_spec(steps=4), tmp_path / "b").train()
    Trainer(tiny_spec(steps=4, seed=1), tmp_path / "c").train()
    a, b, c = (final_weights(tmp_path / name) for name in "abc")
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert not all(torch.equal(a[name], c[name]) for name in a)
    folder = load_model_folder(tmp_path / "a")
    assert folder.tokenizer_path is not None and folder.spec.model.vocab_size == 258
    logits = folder.build()(torch.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 258) and torch.isfinite(logits).all()
    assert json.loads((tmp_path / "a/spec.resolved.json").read_text())["train"]["steps"] == 4


def test_gradient_accumulation_matches_one_big_batch(tmp_path) -> None:
    Trainer(tiny_spec(steps=5, batch_size=8, grad_accum_steps=1), tmp_path / "one").train()
    Trainer(tiny_spec(steps=5, batch_size=8, grad_accum_steps=4), tmp_path / "four").train()
    one, four = metric_records(tmp_path / "one", "loss"), metric_records(tmp_path / "four", "loss")
    assert one == pytest.approx(four, abs=1e-5)
    assert one[0] != one[-1]


def test_bf16_autocast_trains(tmp_path) -> None:
    Trainer(tiny_spec(steps=12, learning_rate=3e-3, precision="bf16"), tmp_path / "bf16").train()
    Trainer(tiny_spec(steps=12, learning_rate=3e-3), tmp_path / "fp32").train()
    bf16, fp32 = metric_records(tmp_path / "bf16", "loss"), metric_records(tmp_path / "fp32", "loss")
    assert bf16[-1] < bf16[0] - 0.3
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, abs=0.1)
    assert all(tensor.dtype == torch.float32 for tensor in final_weights(tmp_path / "bf16").values())


def test_bpe_run_ships_its_trained_tokenizer(tmp_path, text_corpus) -> None:
    data = tiny_spec_dict({"corpus": str(text_corpus), "tokenizer": "bpe"}, steps=2)
    data["model"]["vocab_size"] = 300
    Trainer(load_spec(data), tmp_path / "run").train()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tmp_path / "run/tokenizer.json"))
    assert tokenizer.get_vocab_size() == 300
    assert (tmp_path / "run/tokenizer.json").read_text() == (tmp_path / "run/data/tokenizer.json").read_text()
    cached = json.loads((tmp_path / "run/data/tokens.json").read_text())
    assert cached["tokenizer_kind"] == "bpe" and cached["vocab_size"] == 300
