"""Generation on export folders: padded batches, streaming, the bidirectional path, and
`lightllm generate` on an export folder and on a model folder."""

from __future__ import annotations

from typer.testing import CliRunner

from light_llm.runtime import load_export
from light_llm.generation.eager import load_eager


def cli(*args):
    from light_llm.cli import app as cli_module

    if not cli_module.app.registered_commands:
        cli_module._register_commands()
    return CliRunner().invoke(cli_module.app, [str(a) for a in args])


def test_padded_batch_equals_one_prompt_at_a_time(llama_export):
    model = load_export(llama_export[1])
    prompts = ["x", "import os\nimport sys", "def main():"]
    batched = model.generate(prompts, max_new_tokens=10)
    assert batched == [model.generate(p, max_new_tokens=10)[0] for p in prompts]
    assert len(set(batched)) > 1


def test_io_binding_keeps_the_cache_in_onnxruntime_and_gives_the_same_tokens(llama_export):
    """generate_steps decodes through OnnxSession.bound(): presents come back as OrtValues
    and go in as the next past; the tokens equal those of the numpy loop."""
    import numpy as np
    import onnxruntime as ort

    from light_llm.runtime import Sampling, generate_ids
    from light_llm.runtime.feeds import step_feeds

    model = load_export(llama_export[1])
    session, geometry = model.run, model.geometry
    prompts = [[5, 6, 7], [40, 41, 42, 43, 44, 45, 46]]
    feeds = step_feeds(geometry, np.array([prompts[0]]), np.ones((1, 3), dtype=np.int64), None)
    outputs = session.bound()(feeds)
    assert isinstance(outputs["logits"], np.ndarray) and isinstance(outputs["present.0.key"], ort.OrtValue)
    for sampling in (Sampling(), Sampling(temperature=0.8, top_k=20, seed=1)):
        numpy_loop = generate_ids(lambda feeds: session(feeds), geometry, prompts, max_new_tokens=12,
                                  sampling=sampling)
        assert generate_ids(session, geometry, prompts, max_new_tokens=12, sampling=sampling) == numpy_loop


def test_stream_pieces_join_to_the_generated_text(llama_export):
    model = load_export(llama_export[1])
    pieces = list(model.stream("class A:", max_new_tokens=16))
    assert len(pieces) > 1 and "".join(pieces) == model.generate("class A:", max_new_tokens=16)[0]


def test_bidirectional_export_generates_like_eager(bidirectional_export):
    run, out = bidirectional_export
    assert load_export(out).generate(["ab", "hello"], max_new_tokens=6) == \
        load_eager(run).generate(["ab", "hello"], max_new_tokens=6)


def test_cli_generate_on_export_and_model_folder(llama_export):
    run, out = llama_export
    options = ["--prompt", "for i in", "--max-new-tokens", "12", "--temperature", "0.7", "--seed", "5"]
    from_export, from_run = cli("generate", out, *options), cli("generate", run, *options)
    assert from_export.exit_code == 0 and from_run.exit_code == 0
    assert from_export.output.startswith("for i in") and from_export.output == from_run.output


def test_cli_generate_bad_input(tmp_path, llama_export):
    assert "not a light_llm model folder" in cli("generate", tmp_path, "--prompt", "x").output
    result = cli("generate", llama_export[1], "--prompt", "x", "--top-p", "2")
    assert result.exit_code == 1 and "top_p=2.0" in result.output and "Traceback" not in result.output
    too_long = "x" * 200  # byte tokens, more than max_seq_len
    result = cli("generate", llama_export[1], "--prompt", too_long)
    assert result.exit_code == 1 and "no room left in max_seq_len" in result.output
    assert too_long not in result.output  # the error comes alone, without the echoed prompt
