"""light_llm.runtime, light_llm.serve and the `lightllm` CLI around them import and generate
in a process where importing torch fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from light_llm.cli.missing import missing_module_line
from light_llm.generation.eager import load_eager
from light_llm.runtime.sampling import Sampling

BLOCKER = '''
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("torch is blocked in this process", name=name)  # as if not installed
        return None
sys.meta_path.insert(0, _NoTorch())
'''

CHILD = '''
import json, sys
from light_llm.runtime import Sampling, load_export
try:
    import torch
except ImportError:
    pass
else:
    sys.exit("torch imported: the blocker does not work")
model = load_export(sys.argv[1])
greedy = model.generate(["Hello", "a longer prompt"], max_new_tokens=12)
sampled = model.generate("Hello", max_new_tokens=12, sampling=Sampling(temperature=0.9, top_k=40, top_p=0.9, seed=3))
streamed = "".join(model.stream("Hello", max_new_tokens=12))
print(json.dumps({"greedy": greedy, "sampled": sampled, "streamed": streamed,
                  "torch_loaded": any(m == "torch" or m.startswith("torch.") for m in sys.modules)}))
'''


def run_without_torch(code: str, *arguments: str, folder: Path) -> subprocess.CompletedProcess:
    """`code` run by a Python whose meta path refuses torch (sitecustomize.py in `folder`)."""
    (folder / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code, *arguments], env=dict(os.environ, PYTHONPATH=path),
                          capture_output=True, text=True, timeout=120)


PACKAGE = Path(__file__).resolve().parents[2] / "src" / "light_llm"

# What `lightllm serve EXPORT` runs on, besides the runtime and serve packages.
SERVE_COMMAND = ["light_llm.cli.app", "light_llm.cli.serve", "light_llm.chat_template"]

IMPORT_ALL = '''
import importlib, json, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
from light_llm.cli.app import _register_commands
_register_commands()  # every command of `lightllm --help`
from light_llm.serve.model import load_served_model
served = load_served_model(sys.argv[1])
texts = served.generator.generate(["Hello"], max_new_tokens=4)
print(json.dumps({"texts": texts, "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch")}))
'''


def modules_below(package: str) -> list[str]:
    folder = PACKAGE / package
    return sorted(f"light_llm.{package}" + ("" if path.stem == "__init__" else f".{path.stem}")
                  for path in folder.glob("*.py"))


def test_every_runtime_and_serve_module_imports_where_torch_cannot_be_imported(llama_export, tmp_path):
    modules = modules_below("runtime") + modules_below("serve") + SERVE_COMMAND
    assert "light_llm.runtime.session" in modules and "light_llm.serve.app" in modules
    child = run_without_torch(IMPORT_ALL, str(llama_export[1]), *modules, folder=tmp_path)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["torch"] == []
    assert len(result["texts"]) == 1 and isinstance(result["texts"][0], str)


def test_the_blocker_refuses_a_torch_backend(tmp_path):
    """The check above can fail: importing the torch generation backend there fails."""
    child = run_without_torch("import light_llm.generation.eager_signature", folder=tmp_path)
    assert child.returncode != 0 and "torch is blocked" in child.stderr


def test_runtime_generates_where_torch_cannot_be_imported(llama_export, tmp_path):
    run, out = llama_export
    child = run_without_torch(CHILD, str(out), folder=tmp_path)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["torch_loaded"] is False
    eager = load_eager(run)
    assert result["greedy"] == eager.generate(["Hello", "a longer prompt"], max_new_tokens=12)
    assert result["streamed"] == result["greedy"][0]
    sampling = Sampling(temperature=0.9, top_k=40, top_p=0.9, seed=3)
    assert result["sampled"] == eager.generate("Hello", max_new_tokens=12, sampling=sampling)


CLI = "from light_llm.cli.app import main; main()"
SPEC = PACKAGE.parents[1] / "examples" / "specs" / "tiny.yaml"


@pytest.mark.parametrize("command", [
    ["verify", "EXPORT"],
    ["export", "RUN", "--onnx", "--out", "OUT"],
    ["generate", "RUN", "--prompt", "hi"],
    ["serve", "RUN"],
    ["eval", "RUN", "--perplexity"],
    ["import-hf", "RUN", "--out", "OUT"],
    ["train", SPEC, "--steps", "1", "--out", "OUT"],
    ["sweep", SPEC, "--grid", "model.d_model=64,128", "--out", "OUT"],
    ["demo", "--out", "OUT"],
])
def test_a_command_that_needs_torch_says_which_extra_to_install(llama_export, tmp_path, command):
    places = {"RUN": llama_export[0], "EXPORT": llama_export[1], "OUT": tmp_path / "out"}
    child = run_without_torch(CLI, *(str(places.get(argument, argument)) for argument in command), folder=tmp_path)
    assert child.returncode == 1
    assert child.stderr.strip() == "error: " + missing_module_line(ModuleNotFoundError(name="torch"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [
    ["generate", "EXPORT", "--prompt", "hi", "--max-new-tokens", "3"],
    ["eval", "EXPORT", "--perplexity"],
    ["validate", SPEC],
    ["compile", SPEC],
])
def test_commands_on_exports_and_specs_run_without_torch(llama_export, tmp_path, command):
    child = run_without_torch(CLI, *(str(llama_export[1]) if argument == "EXPORT" else str(argument)
                                     for argument in command), folder=tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip()
