"""light_llm.runtime generates in a process where importing torch fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from light_llm.runtime.eager import load_eager
from light_llm.runtime.sampling import Sampling

BLOCKER = '''
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this process")
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


def test_runtime_generates_where_torch_cannot_be_imported(llama_export, tmp_path):
    run, out = llama_export
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    child = subprocess.run([sys.executable, "-c", CHILD, str(out)], env=env, capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["torch_loaded"] is False
    eager = load_eager(run)
    assert result["greedy"] == eager.generate(["Hello", "a longer prompt"], max_new_tokens=12)
    assert result["streamed"] == result["greedy"][0]
    sampling = Sampling(temperature=0.9, top_k=40, top_p=0.9, seed=3)
    assert result["sampled"] == eager.generate("Hello", max_new_tokens=12, sampling=sampling)
