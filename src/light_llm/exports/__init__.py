"""Exports: ONNX, TorchScript, torch.export/AOTInductor, Hugging Face; each verified."""
