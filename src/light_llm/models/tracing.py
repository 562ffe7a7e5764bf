"""Whether the forward is being traced (TorchScript, torch.compile, torch.export and the
ONNX exporter built on it): eager-only fast paths and checks step aside then, so that
graphs hold portable ops and no data-dependent branches."""

import torch


def is_tracing() -> bool:
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()


def is_exporting() -> bool:
    """TorchScript, torch.export and the exporters on it, whose graphs keep portable ops
    (torch.compile is not one: it may run custom ops)."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_exporting()
