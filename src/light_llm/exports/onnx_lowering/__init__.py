"""The ONNX graph written directly from the IR and the weights (no tracing).

`graph.write_fused_graph` is the entry point; `plan.lowering_plan` says, per layer, whether
the fused onnxruntime form can express it ("fused") or the model falls back to the
standard-ops form ("standard") and why.
"""
