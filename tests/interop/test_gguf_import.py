"""`lightllm import-hf FILE.gguf`: small GGUF files written with llama.cpp's own writer
from random transformers models (gguf_files.py) import into model folders whose logits
are those of the original model (its weights rounded as the file stores them) and of
transformers' own GGUF reader (the import's parity gate), with the tokenizer, chat
template and stop ids of the metadata; bad files are refused in one line, with nothing
written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from gguf_files import CHAT_TEMPLATE, SPECIALS, spm_tokens, tokens, write_gguf

from light_llm.import_hf import HFImportError, import_hf
from light_llm.model_folder import load_model_folder

transformers = pytest.importorskip("transformers")

CONFIGS = {
    "llama": lambda tied: transformers.LlamaConfig(
        vocab_size=len(tokens()), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rope_theta=500.0,
        rms_norm_eps=1e-5, tie_word_embeddings=tied),
    "qwen2": lambda tied: transformers.Qwen2Config(
        vocab_size=len(tokens()), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=tied),
    # head_dim 128, Qwen3's own: transformers' GGUF reader ignores attention.key_length for qwen3
    "qwen3": lambda tied: transformers.Qwen3Config(
        vocab_size=len(tokens()), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=128, max_position_embeddings=64,
        tie_word_embeddings=tied),
}
TEXTS = ["the theater in the hall", " leading space, then\n\ttabs and üñí €😀",
         "<|im_start|>user\nhi there<|im_end|>\n", "1234 + 56.7e-8 ==  x", "a<think>b </think>"]


def random_model(family: str = "llama", tied: bool = False, seed: int = 0, vocab_size: int | None = None):
    torch.manual_seed(seed)
    config = CONFIGS[family](tied)
    config.vocab_size = vocab_size or config.vocab_size
    config.initializer_range = 0.2  # logits far from zero, so a wrong import shows
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def rounded_as_stored(model, kind: str):
    """`model` with each 2-D weight rounded to the GGML type `kind` and back, as the file
    stores it (row by row, so llama.cpp's row order of Q and K does not change it)."""
    import copy

    import gguf

    qtype = gguf.GGMLQuantizationType[kind]
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in rounded.parameters():
            if parameter.ndim == 2:
                stored = gguf.quants.quantize(parameter.numpy(), qtype)
                parameter.copy_(torch.from_numpy(gguf.quants.dequantize(stored, qtype).astype("float32")))
    return rounded


def logits(module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = module(ids)
    return out.logits if hasattr(out, "logits") else out


@pytest.mark.parametrize("family,kind,tied", [("llama", "F32", False), ("llama", "F16", True),
                                              ("llama", "BF16", False), ("llama", "Q8_0", False),
                                              ("llama", "Q4_0", True), ("qwen2", "F32", False),
                                              ("qwen3", "F32", True)])
def test_gguf_imports_with_the_logits_of_transformers_and_of_the_original(tmp_path, family, kind, tied):
    original = random_model(family, tied)
    source = write_gguf(tmp_path / "tiny.gguf", original, family, types={"weight": kind})

    result = import_hf(source, tmp_path / "run")  # verified against transformers' GGUF reader

    assert result.parity is not None and result.parity.passed
    assert result.model_type == family
    folder = load_model_folder(tmp_path / "run")
    assert folder.spec.model.tie_embeddings is tied
    ids = torch.randint(0, len(tokens()), (2, 11))
    ours, theirs = logits(folder.build(), ids), logits(rounded_as_stored(original, kind), ids)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
    origin = json.loads((tmp_path / "run" / "origin.json").read_text())
    assert origin["hf_model_type"] == family and origin["gguf"]["architecture"] == family
    assert origin["gguf"]["file"] == "tiny.gguf" and kind in origin["gguf"]["tensor_types"]


def test_a_file_transformers_cannot_load_is_refused_unless_unverified(tmp_path):
    """transformers' GGUF reader ignores qwen3's attention.key_length and expects its default
    head of 128: a head of 32 cannot be verified, so the import is refused with nothing
    written; unverified, it reproduces the original's logits."""
    config = CONFIGS["qwen3"](False)
    config.head_dim, config.initializer_range = 32, 0.2
    torch.manual_seed(0)
    original = transformers.AutoModelForCausalLM.from_config(config).eval()
    source = write_gguf(tmp_path / "qwen3.gguf", original, "qwen3")

    with pytest.raises(HFImportError, match=r"qwen3.gguf: transformers cannot load this GGUF file, so the import "
                                            r"cannot be verified \(--no-verify imports it unverified\): "):
        import_hf(source, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    import_hf(source, tmp_path / "run", verify=False)
    ids = torch.randint(0, len(tokens()), (1, 7))
    assert torch.allclose(logits(load_model_folder(tmp_path / "run").build(), ids), logits(original, ids), atol=1e-4)


def test_model_folder_carries_tokenizer_chat_template_and_stop_ids(tmp_path):
    source = write_gguf(tmp_path / "tiny.gguf", random_model())
    import_hf(source, tmp_path / "run", verify=False)

    run = tmp_path / "run"
    settings = json.loads((run / "tokenizer_config.json").read_text())
    assert settings["chat_template"] == CHAT_TEMPLATE
    roles = (settings["bos_token"], settings["eos_token"], settings["pad_token"])
    assert roles == (SPECIALS[1], SPECIALS[0], SPECIALS[0])
    added = {entry["content"]: entry["special"] for entry in settings["added_tokens_decoder"].values()}
    assert added == {**dict.fromkeys(SPECIALS, True), "<think>": False}
    generation = json.loads((run / "generation_config.json").read_text())
    assert generation == {"bos_token_id": 1, "eos_token_id": [0, 2], "pad_token_id": 0}  # eos, then eot

    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(run / "tokenizer.json"))
    reference = transformers.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="tiny.gguf")
    for text in TEXTS:
        assert ours.encode(text).ids == reference(text)["input_ids"], text
        assert ours.decode(ours.encode(text).ids, skip_special_tokens=False) == text
    assert ours.encode("<|im_end|>").ids == [2]  # a control token is matched whole
    assert ours.encode("<think>").ids == [len(tokens()) - 1]  # and so is an added one


def test_sentencepiece_vocabulary_encodes_as_transformers_gguf_tokenizer(tmp_path):
    """llama.cpp's SentencePiece form: scored pieces, <0xNN> bytes, no merges (recovered
    from the scores), a prefix space and BOS added."""
    source = write_gguf(tmp_path / "spm.gguf", random_model(vocab_size=len(spm_tokens())), tokenizer="llama")
    result = import_hf(source, tmp_path / "run", verify=False)

    assert not any("tokenizer" in note for note in result.notes), result.notes
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(tmp_path / "run" / "tokenizer.json"))
    reference = transformers.AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="spm.gguf")
    texts = ["hello the theater", "  in a hall,\nhe ll ü€😀", "the</s>hello", "hellohello"]
    for text in texts:
        assert ours.encode(text).ids == reference(text)["input_ids"], text
    # text that starts with a space gets no second prefix space, so decoding drops one (as transformers')
    assert ours.decode(ours.encode(texts[1]).ids) == texts[1][1:]
    assert ours.decode(ours.encode(texts[0]).ids) == texts[0]
    assert ours.encode("hello").ids[:2] == [1, spm_tokens().index("▁hello")]  # BOS, then one piece
    settings = json.loads((tmp_path / "run" / "tokenizer_config.json").read_text())
    assert (settings["bos_token"], settings["eos_token"], settings["unk_token"]) == ("<s>", "</s>", "<unk>")


def test_llama_cpp_row_order_of_q_and_k_is_undone(tmp_path):
    """Without the un-permutation the weights still load and run: only the logits show it."""
    original = random_model()
    source = write_gguf(tmp_path / "tiny.gguf", original)
    import_hf(source, tmp_path / "run", verify=False)
    ids = torch.randint(0, len(tokens()), (1, 9))
    state = load_model_folder(tmp_path / "run").build().state_dict()
    q = original.state_dict()["model.layers.0.self_attn.q_proj.weight"]
    assert torch.equal(state["blocks.0.attention.q_proj.weight"], q)
    assert torch.allclose(logits(load_model_folder(tmp_path / "run").build(), ids), logits(original, ids), atol=1e-4)


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (file, what its one-line refusal says)."""
    model = random_model()
    good = write_gguf(tmp_path / "good.gguf", model)
    data = good.read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[: len(data) - 1000])
    (tmp_path / "header.gguf").write_bytes(data[:200])
    (tmp_path / "text.gguf").write_text("not a model\n")
    from gguf_files import gguf_tensors

    tensors = gguf_tensors(model, "llama")
    wrong = dict(tensors, **{"blk.1.ffn_up.weight": tensors["blk.1.ffn_up.weight"][:96]})
    missing = {name: array for name, array in tensors.items() if name != "blk.0.attn_k.weight"}
    return {
        "truncated data": (tmp_path / "cut.gguf", r"truncated GGUF file: its tensor data ends past the end"),
        "truncated header": (tmp_path / "header.gguf", r"unreadable GGUF file \(truncated or corrupt\)"),
        "not gguf": (tmp_path / "text.gguf", r"neither a Hugging Face folder nor a GGUF file"),
        "unknown architecture": (write_gguf(tmp_path / "mamba.gguf", model, "mamba"),
                                 r"GGUF architecture 'mamba' cannot be imported \(not a decoder-only "
                                 r"Transformer \(a recurrent or state-space model\)\); supported: llama, qwen2, qwen3, olmo2, phi3, gemma, gemma2, gemma3, gpt2"),
        "wrong shape": (write_gguf(tmp_path / "shape.gguf", model, tensors=wrong),
                        r"blk.1.ffn_up.weight is \[96, 64\] in the file, \[128, 64\] for the llama metadata"),
        "missing tensor": (write_gguf(tmp_path / "missing.gguf", model, tensors=missing),
                           r"missing tensors \(1\): blk.0.attn_k.weight"),
        "rope scaling": (write_gguf(tmp_path / "scaled.gguf", model, metadata={"llama.rope.scaling.type": "yarn"}),
                         r"llama.rope.scaling.type='yarn': light_llm imports RoPE scaling from GGUF metadata only "
                         r"as a linear factor; supported: none, linear"),
        "too many tokens": (write_gguf(tmp_path / "vocab.gguf", model, metadata={"llama.vocab_size": 200}),
                            rf"vocab.gguf \(tokenizer.ggml.tokens\): the tokenizer has {len(tokens())} tokens but "
                            r"the model's vocabulary has 200 rows"),
        "partial rotary": (write_gguf(tmp_path / "partial.gguf", model, metadata={"llama.rope.dimension_count": 8}),
                           r"rope.dimension_count=8 rotates part of each head of 16"),
    }


def test_bad_files_are_refused_in_one_line_with_nothing_written(tmp_path):
    for name, (source, message) in bad_files(tmp_path).items():
        with pytest.raises(HFImportError, match=message) as raised:
            import_hf(source, tmp_path / "run", verify=False)
        assert "\n" not in str(raised.value) and str(source) in str(raised.value), name
        assert not (tmp_path / "run").exists(), name


def test_cli_imports_a_gguf_file_and_refuses_a_truncated_one(tmp_path):
    """A real `lightllm import-hf` process: the progress and parity lines, exit 0; a cut
    file: one error line, exit 1, no folder."""
    source = write_gguf(tmp_path / "model.bin", random_model(), types={"weight": "Q8_0"})  # found by its magic
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", "import-hf"]
    done = subprocess.run(command + [str(source), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "imported llama" in done.stdout and "vs transformers: parity passed" in done.stdout
    assert "dequantized to float32: 16 Q8_0, 5 F32" in done.stdout
    assert "import: dequantize:" in done.stderr  # the phase line (a bar only on a terminal)
    assert load_model_folder(tmp_path / "run").origin["gguf"]["file_type"] is None

    cut = tmp_path / "cut.gguf"
    cut.write_bytes(source.read_bytes()[:-64])
    failed = subprocess.run(command + [str(cut), "--out", str(tmp_path / "cut-run")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith(f"error: {cut}: truncated GGUF file")
    assert not (tmp_path / "cut-run").exists()
