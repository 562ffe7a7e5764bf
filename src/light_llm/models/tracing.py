"""Whether the forward is being traced (TorchScript, torch.compile, torch.export and the
ONNX exporter built on it): eager-only fast paths and checks step aside then, so that
graphs hold portable ops and no data-dependent branches."""

import torch


def is_tracing() -> bool:
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()
