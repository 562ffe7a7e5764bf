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
    transformers_reader.py transformers' model of a file, the reference of both directions

and the other direction, for `lightllm export --gguf` (exports/gguf.py), through the same
tables (architectures.py's export needs, config.py's keys, tensor_names.py, rope_order.py):

    vocabulary.py      a byte-level BPE tokenizer.json → llama.cpp's "gpt2" vocabulary
    writer.py          metadata, tensors (F32 … Q4_0) and vocabulary → a GGUF file
"""
