"""The packages import each other one way only (read with ast, so this cannot rot):

    ground floor (errors, spec_base, tokenizer, formatting, permissions)
      ← spec (schemas, models/registry, each family's config.py and option table)
      ← IR and lowering (each family's ir, lower, cost, resolve)
      ← modules (the rest of models/)
      ← compiler (lower_spec, build, summary, resolve: any family, through the registry)
      ← interop (Hugging Face mapping) ← train / exports / model_folder
      ← CLI, demo, serve, experiments (sweep and compare: above train), import_hf and
        import_gguf (the import workflows: they run the export parity gate),
        evaluate.perplexity (`lightllm eval` on any folder)

with run_logs/ (metrics.jsonl, loss plots, TensorBoard: what train writes and experiments
reads) just above the ground floor, evaluate/'s text, windows and scores beside train and
exports (the quantized gate reads them), and the runtime stands on its own (ground floor
only: no torch; generation/ holds the torch backends of its generator). A module may import its own layer or any layer below; imports under
`if TYPE_CHECKING:` are type hints, not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

RUNTIME = -1
LAYERS: list[tuple[str, int]] = [  # (module prefix, layer); the longest prefix wins
    ("light_llm", 0),
    ("light_llm.runtime", RUNTIME),
    ("light_llm.schemas", 1),
    ("light_llm.models.registry", 1),
    ("light_llm.models.*.config", 1),
    ("light_llm.models.*.options", 1),
    ("light_llm.models.*.errors", 1),
    ("light_llm.models.*.ir", 2),
    ("light_llm.models.*.lower", 2),
    ("light_llm.models.*.cost", 2),
    ("light_llm.models.*.resolve", 2),
    ("light_llm.models.*.rope_scaling", 2),  # frequency math read by lowering; torch only inside functions
    ("light_llm.models", 3),
    ("light_llm.compiler", 4),
    ("light_llm.interop", 5),
    ("light_llm.train", 6),
    ("light_llm.generation", 6),  # eager and compiled decode in torch; the runtime's generator drives it
    ("light_llm.exports", 6),
    ("light_llm.model_folder", 6),
    ("light_llm.evaluate", 6),
    ("light_llm.evaluate.perplexity", 7),
    ("light_llm.cli", 7),
    ("light_llm.import_hf", 7),
    ("light_llm.import_gguf", 7),
    ("light_llm.serve", 7),
    ("light_llm.run_logs", 1),  # written by train, read by experiments; needs the ground floor only
    ("light_llm.experiments", 7),  # reads run_logs, drives the Trainer: wholly above train
    ("light_llm.demo", 7),
]

# Upward imports tolerated while they are being removed (none today). Each must still
# exist and still point up, so that this list only shrinks.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def layer(module: str) -> int:
    parts = module.split(".")
    best, depth = None, -1
    for prefix, rank in LAYERS:
        pattern = prefix.split(".")
        if len(pattern) <= len(parts) and len(pattern) > depth and all(
            p in ("*", q) for p, q in zip(pattern, parts)
        ):
            best, depth = rank, len(pattern)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    hints = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "light_llm"}


def arrows() -> set[tuple[str, str]]:
    return {
        (module_name(path), target)
        for path in sorted((SRC / "light_llm").rglob("*.py"))
        for target in imports(path)
    }


def upward(source: str, target: str) -> bool:
    low, high = layer(target), layer(source)
    if high == RUNTIME:
        return low != 0 and not target.startswith("light_llm.runtime")
    return low > high


def test_imports_point_down_only():
    broken = sorted(arrow for arrow in arrows() if upward(*arrow) and arrow not in KNOWN_UPWARD)
    assert broken == [], "\n".join(f"{source} imports {target}" for source, target in broken)


def test_known_upward_imports_still_exist_and_point_up():
    assert KNOWN_UPWARD <= arrows(), sorted(KNOWN_UPWARD - arrows())
    assert all(upward(*arrow) for arrow in KNOWN_UPWARD), sorted(a for a in KNOWN_UPWARD if not upward(*a))


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def module_file(module: str) -> Path | None:
    path = SRC / Path(*module.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None  # packages re-export on purpose


def defined_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
    return names


def borrowed_names() -> list[tuple[str, str, str]]:
    """(importer, module, name) where a name crosses into another package from a module that
    only re-exports it, type hints included."""
    found = []
    for path in sorted((SRC / "light_llm").rglob("*.py")):
        importer = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            source = module_file(node.module)
            if source is None or not node.module.startswith("light_llm.") or package(node.module) == package(importer):
                continue
            found += [(importer, node.module, alias.name) for alias in node.names
                      if alias.name not in defined_names(source) and module_file(f"{node.module}.{alias.name}") is None]
    return found


def test_names_cross_packages_from_where_they_are_defined():
    assert borrowed_names() == [], "\n".join(
        f"{importer} imports {name} from {module}, which does not define it" for importer, module, name in borrowed_names())


def test_the_rules_catch_an_upward_import():
    assert upward("light_llm.models.transformer.config", "light_llm.models.transformer.ir")
    assert upward("light_llm.models.transformer.lower", "light_llm.models.transformer.model")
    assert upward("light_llm.models.transformer.model", "light_llm.compiler.build")
    assert upward("light_llm.compiler.pipeline", "light_llm.train.tokenizer")
    assert upward("light_llm.schemas.spec", "light_llm.compiler.resolve")
    assert upward("light_llm.runtime.session", "light_llm.exports.folder")
    assert upward("light_llm.train.sinks", "light_llm.experiments.report")
    assert upward("light_llm.run_logs.plot", "light_llm.train.trainer")
    assert not upward("light_llm.compiler.pipeline", "light_llm.tokenizer")
    assert not upward("light_llm.schemas.spec", "light_llm.models.registry")
