"""Every Hugging Face family of families.py, end to end (random weights, nothing
downloaded): a transformers model saved with save_pretrained → `lightllm import-hf` →
logits equal to transformers (fp32, 1e-4) in eager and in the ONNX export, the family's
own tensors back (transformers loads them), `export --hf` loads in transformers with
equal logits, and the imported model trains a few steps (light_llm's Trainer,
starting from the imported weights; a mixture of experts with its auxiliary losses) and
exports again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from rich.console import Console
from safetensors import safe_open
from families import FAMILIES, VOCAB, Family
from onnx_vs_transformers import (
    assert_close,
    assert_onnx_equals_transformers,
    left_padded_prompts,
    transformers_logits,
)

from light_llm.exports.hf import export_hf
from light_llm.exports.onnx import export_onnx
from light_llm.exports.onnx_lowering.options import moe_gating
from light_llm.import_hf import import_hf
from light_llm.interop.hf import architectures
from light_llm.model_folder import ModelFolder, load_model_folder
from light_llm.runtime.feeds import step_feeds
from light_llm.runtime.geometry import Geometry
from light_llm.tokenizer import byte_tokenizer
from light_llm.train.data import WindowSampler
from light_llm.train.prepare import prepare_data
from light_llm.train.trainer import Trainer

transformers = pytest.importorskip("transformers")


@dataclass
class Imported:
    family: Family
    root: Path
    reference: torch.nn.Module  # transformers' model of the saved folder, in fp32
    folder: ModelFolder
    report: str  # what the import said (CLI output or the library's notes)


def save_family(family: Family, path: Path) -> None:
    special = dict(bos_token_id=256, eos_token_id=256, pad_token_id=257)  # the byte tokenizer's
    config = getattr(transformers, family.config_class)(vocab_size=VOCAB, initializer_range=0.2,
                                                        **special | family.config)
    torch.manual_seed(0)  # an init range far from zero, so that a wrong import shows
    model = transformers.AutoModelForCausalLM.from_config(config).to(family.dtype)
    if family.random_biases:  # so that a bias mapped wrong shows in the logits
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("bias"):
                    parameter.normal_(std=0.2)
    model.save_pretrained(path, max_shard_size="20KB" if family.sharded else "1GB")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>", pad_token="<|pad|>")
    tokenizer.save_pretrained(path)


def run_import(family: Family, source: Path, out: Path) -> str:
    if not family.cli:
        result = import_hf(source, out)
        return "\n".join([result.parity.summary(), *result.notes])
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", "import-hf", str(source),
               "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module", params=FAMILIES, ids=str)
def imported(request, tmp_path_factory) -> Imported:
    family: Family = request.param
    root = tmp_path_factory.mktemp(family.name)
    save_family(family, root / "hf")
    report = run_import(family, root / "hf", root / "run")
    reference = transformers.AutoModelForCausalLM.from_pretrained(root / "hf", dtype=torch.float32).eval()
    return Imported(family, root, reference, load_model_folder(root / "run"), report)


def prompts(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two rows of 11 tokens, the second left-padded: longer than every sliding window."""
    return left_padded_prompts(VOCAB, length=11, padding=3, seed=seed)


def test_import_reads_what_the_folder_ships(imported):
    family, run = imported.family, imported.root / "run"
    assert "parity passed" in imported.report
    assert (run / "tokenizer.json").is_file() and (run / "tokenizer_config.json").is_file()
    assert imported.folder.spec.model.tie_embeddings == imported.reference.config.tie_word_embeddings
    if family.sharded:
        assert (imported.root / "hf" / "model.safetensors.index.json").is_file()
        assert "shards" in imported.report
    if family.dtype != torch.float32:
        assert f"{str(family.dtype).removeprefix('torch.')} weights converted to float32" in imported.report


def test_eager_logits_equal_transformers(imported):
    tokens = torch.from_numpy(prompts()[0])
    with torch.no_grad():
        ours = imported.folder.build()(tokens).numpy()
    assert_close(ours, transformers_logits(imported.reference, tokens.numpy(), np.ones_like(tokens.numpy()),
                                 np.broadcast_to(np.arange(tokens.shape[1]), tokens.shape).copy()))


@pytest.mark.parametrize("form", ["fused", "portable"])
def test_onnx_export_equals_transformers(imported, form):
    out = imported.root / f"onnx-{form}"
    result = export_onnx(imported.folder, out, portable=form == "portable")
    assert_onnx_equals_transformers(imported.folder, out / "model.onnx", imported.reference, *prompts(1))
    assert sum("decode step" in check.name for check in result.parity.checks) >= 8  # the KV cache, step by step
    ffn = imported.folder.spec.model.ffn
    if ffn.moe is not None:  # onnxruntime's MoE node where its CPU kernel computes the experts' variant
        ops = {node.op_type for node in onnx.load(out / "model.onnx").graph.node}
        assert ("MoE" in ops) == (form == "fused" and moe_gating(ffn.variant) is not None)
    carried = json.loads((imported.root / "hf" / "tokenizer_config.json").read_text())
    assert json.loads((out / "tokenizer_config.json").read_text()) == carried


def test_family_tensors_go_back_unchanged(imported):
    """The family's own mapping (fused QKV, Conv1D...) written back gives transformers
    exactly the tensors it loaded."""
    model = imported.folder.build()
    entry = architectures()[imported.reference.config.model_type]
    state = dict(model.state_dict())
    back = entry.to_hf(model.ir, state)
    theirs = imported.reference.state_dict()
    assert set(back) == set(theirs)
    for name, tensor in theirs.items():
        assert torch.equal(back[name], tensor), name


def tensor_names(folder: Path) -> set[str]:
    names = set()
    for shard in folder.glob("*.safetensors"):
        with safe_open(shard, "pt") as weights:
            names.update(weights.keys())
    return names


def test_hf_export_loads_in_transformers_with_equal_logits(imported):
    result = export_hf(imported.folder, imported.root / "hf-out")
    assert result.parity.passed
    written = json.loads((imported.root / "hf-out" / "config.json").read_text())
    assert written["architectures"] == imported.reference.config.architectures  # the imported one, kept
    assert tensor_names(imported.root / "hf-out") == tensor_names(imported.root / "hf")  # save_pretrained's names
    again = transformers.AutoModelForCausalLM.from_pretrained(imported.root / "hf-out", dtype=torch.float32).eval()
    ids, mask = prompts(2)
    positions = step_feeds(Geometry.from_ir(imported.folder.build().ir), ids, mask, None)["position_ids"]
    valid = mask.astype(bool)
    assert_close(transformers_logits(again, ids, mask, positions)[valid],
                 transformers_logits(imported.reference, ids, mask, positions)[valid])


def test_imported_model_trains_and_exports(imported):
    """light_llm's own Trainer starts from the imported weights (--init-from): its first
    loss is the imported model's on that batch; the trained run exports to --hf again."""
    corpus = imported.root / "corpus.txt"
    corpus.write_text("".join(f"line {line}: the quick brown fox jumps over the lazy dog\n" for line in range(40)))
    train = dict(steps=3, batch_size=2, seq_len=12, warmup_steps=1, eval_every=3, eval_batches=1)
    spec = imported.folder.spec.model_copy(update=dict(
        data=imported.folder.spec.data.model_copy(update=dict(corpus=str(corpus))),
        train=imported.folder.spec.train.model_copy(update=train)))
    run = imported.root / "trained"
    summary = Trainer(spec, run, console=Console(quiet=True), tensorboard=False, init_from=imported.root / "run").train()
    assert summary.steps == 3
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    sampler = WindowSampler(prepare_data(spec, run, 12).splits.train, 12, spec.train.seed)
    windows = sampler.windows(sampler.offsets(2))
    model = imported.folder.build().train()
    torch.manual_seed(spec.train.seed)  # the Trainer's seed before its first step: equal dropout masks
    with torch.no_grad():
        logits = model(windows[:, :-1])
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten()).item()
    assert records[0]["loss"] == pytest.approx(expected, abs=1e-4)
    moe = imported.folder.spec.model.ffn.moe
    if moe is not None:  # trained with the auxiliary losses, the routing logged per sparse layer
        steps = [record for record in records if "loss" in record]
        assert all(record["aux_loss"] > 0 and record["expert_load"] >= 1.0 for record in steps)
        routed = [sum(layer) for record in steps for layer in record["expert_tokens"]]
        assert routed and set(routed) == {2 * 12 * moe.experts_per_token}
    trained = load_model_folder(run)
    assert trained.hf_model_type == imported.reference.config.model_type
    result = export_hf(trained, imported.root / "trained-hf")
    assert result.parity.passed
    written = json.loads((imported.root / "trained-hf" / "config.json").read_text())
    assert written["model_type"] == imported.reference.config.model_type
