"""The eager reference of a parity check, built with one copy of the weights: the module
is made without random initialisation (its parameters are overwritten anyway) and every
tensor of model.safetensors is read straight into its parameter (exports/weights_file.py),
so the peak is the weights once, not a random model plus a loaded state dict (as
ModelFolder.build does)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from light_llm.model_folder import WEIGHTS_FILE, ModelFolderError

INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_")


def load_reference(folder, target: str = "eager"):
    """The module of `folder` lowered for `target`, holding the folder's weights (eval mode)."""
    from light_llm.compiler.build import build
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.weights_file import open_weights

    path = folder.path / WEIGHTS_FILE
    weights = open_weights(path)
    with _without_init():
        model = build(lower_spec(folder.spec, target=target))
    state = model.state_dict(keep_vars=True)
    first_name = {}  # a tied parameter is stored once, under the first of its names
    tied = {name for name, tensor in state.items() if first_name.setdefault(id(tensor), name) != name}
    missing = [name for name in state if name not in weights.entries and name not in tied]
    unexpected = [name for name in weights.names() if name not in state]
    if missing or unexpected:
        raise ModelFolderError(f"{path}: weights do not match the spec "
                               f"(missing: {missing[:5]}, unexpected: {unexpected[:5]})")
    for name in weights.names():
        tensor = state[name].data
        if tuple(tensor.shape) != weights.shape(name):
            raise ModelFolderError(f"{path}: weights do not match the spec (size mismatch: {name} is "
                                   f"{list(weights.shape(name))} in the file, {list(tensor.shape)} in the spec); "
                                   "compile or train it again")
        try:
            weights.read_into(name, tensor.numpy())
        except ValueError as error:
            raise ModelFolderError(f"{path}: cannot read weights: {error}") from None
    return model.eval()


@contextmanager
def _without_init() -> Iterator[None]:
    """torch.nn.init's functions as no-ops (as transformers' no_init_weights does)."""
    import torch

    saved = {name: getattr(torch.nn.init, name) for name in INIT_FUNCTIONS}
    try:
        for name in saved:
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(torch.nn.init, name, function)
