"""The ONNX graph written directly from the IR and the weights (no tracing).

`graph.write_graph` is the entry point; `plan.lowering_plan` says, per layer, whether its
attention is one GroupQueryAttention node ("fused") or standard ONNX ops ("standard")
and why; `portable` graphs use standard ops only. Every option is written by the lowering
its option-table entry names (models/transformer/options.py, resolved by `options.py`
for the graph's form): this package never branches on an option's name.
"""
