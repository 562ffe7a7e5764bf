"""GGUF files (llama.cpp's format) read as Hugging Face checkpoints, so that `lightllm
import-hf FILE.gguf` reuses the mapping objects of interop/hf/ and the parity gate of a
Hugging Face folder. One concept per file:

    file.py            GGUFFile: llama.cpp's reader, metadata values, tensor headers; GGUFError
    architectures.py   the GGUF architectures imported and their Hugging Face families
    config.py          metadata → the family's config.json dict
    tensor_names.py    llama.cpp tensor names ↔ Hugging Face names
    rope_order.py      llama.cpp's Q/K row permutation, undone
    dequantize.py      any GGML type the gguf package reads → fp32, one tensor at a time
    weights.py         the Hugging Face state dict of a file
    tokenizer.py       tokenizer.ggml.* → a `tokenizers` Tokenizer (byte-level BPE)
    sentencepiece.py   a SentencePiece vocabulary (scores, byte tokens) as a BPE
    pre_tokenizers.py  llama.cpp's pre-tokenizer names → `tokenizers` pre-tokenizers
    tokenizer_files.py tokenizer_config.json (chat template, special tokens) and
                       generation_config.json (eos ids)
"""
