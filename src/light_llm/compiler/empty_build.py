"""Modules whose parameters are created on the meta device (no memory, no initialisation)
while their buffers (RoPE frequencies, ALiBi slopes) are computed as usual, to be filled
by `load_state_dict(state, assign=True)`: a checkpoint's tensors become the parameters
themselves, so a model is never initialised twice nor held twice in memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Every parameter registered inside moves to the meta device; buffers stay real."""
    register = nn.Module.register_parameter

    def on_meta(module: nn.Module, name: str, parameter: nn.Parameter | None) -> None:
        if parameter is not None and parameter.device.type != "meta":
            parameter = nn.Parameter(parameter.to("meta"), requires_grad=parameter.requires_grad)
        register(module, name, parameter)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def build_empty(ir) -> nn.Module:
    """The module of `ir` with meta parameters and real buffers."""
    from light_llm.compiler.build import build

    with parameters_on_meta():
        return build(ir)


def assign_state(module: nn.Module, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Makes `state`'s tensors `module`'s parameters (no copy, except for a slice of a
    larger tensor, such as one part of a fused QKV, copied so that each parameter owns its
    storage); returns (missing, unexpected) like load_state_dict(strict=False), after
    re-tying parameters that the module shared (a tied lm_head stays the embedding)."""
    shared = _shared_parameters(module)
    state = {name: tensor if _owns_storage(tensor) else tensor.clone(memory_format=torch.contiguous_format)
             for name, tensor in state.items()}
    missing, unexpected = module.load_state_dict(state, strict=False, assign=True)
    for alias, owner in shared:
        _set(module, alias, module.get_parameter(owner))
    return missing, unexpected


def _owns_storage(tensor: torch.Tensor) -> bool:
    return tensor.is_contiguous() and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()


def _shared_parameters(module: nn.Module) -> list[tuple[str, str]]:
    """(alias, first name) of each parameter registered under two names."""
    first: dict[int, str] = {}
    pairs = []
    for name, parameter in module.named_parameters(remove_duplicate=False):
        if id(parameter) in first:
            pairs.append((name, first[id(parameter)]))
        else:
            first[id(parameter)] = name
    return pairs


def _set(module: nn.Module, name: str, parameter: nn.Parameter) -> None:
    owner, _, attribute = name.rpartition(".")
    setattr(module.get_submodule(owner) if owner else module, attribute, parameter)
