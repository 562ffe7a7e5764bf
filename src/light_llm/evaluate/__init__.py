"""Evaluation on real text: windowed perplexity of a model folder (eager PyTorch), of an
ONNX export folder (onnxruntime, no torch) and of a Hugging Face folder (transformers).

    text.py       the built-in English text and a user's text file
    tokens.py     text → token ids with a folder's tokenizer (bytes for the byte tokenizer)
    windows.py    token ids → windows of fixed length
    scores.py     logits → per-position negative log-likelihood and top-1 token
    backends.py   logits of a window for each kind of model
    perplexity.py the whole evaluation of one folder (`lightllm eval --perplexity`)

Importing this package, and evaluating an export folder, never loads torch.
"""
