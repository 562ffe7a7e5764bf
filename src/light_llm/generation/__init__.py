"""Generation in PyTorch for model and run folders: the eager backend of the contract
(eager_signature.py), its compiled decode step over a static KV cache (compiled_decode.py,
static_cache.py) and `load_eager` (eager.py). The runtime's generator drives it; unlike
light_llm.runtime it needs torch."""
