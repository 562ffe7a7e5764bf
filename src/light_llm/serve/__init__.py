"""`lightllm serve`: an OpenAI-compatible HTTP server over an export folder (onnxruntime,
no torch) or a run folder (eager PyTorch), with continuous batching of concurrent
requests. Importing this package loads nothing heavy; see docs/serving.md."""
