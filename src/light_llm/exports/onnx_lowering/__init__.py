"""The ONNX graph written directly from the IR and the weights (no tracing).

`graph.write_graph` is the entry point; `plan.lowering_plan` says, per layer, whether its
attention is one GroupQueryAttention node ("fused") or standard ONNX ops ("standard")
and why; `portable` graphs use standard ops only.
"""
