"""Generation with onnxruntime, numpy and tokenizers only: importable without torch."""
