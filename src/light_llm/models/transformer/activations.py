"""Activations the option table names that torch has no single function for."""

import torch
from torch.nn import functional


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): Hugging Face's
    gelu_new / gelu_pytorch_tanh (GPT-2, Gemma)."""
    return functional.gelu(x, approximate="tanh")
