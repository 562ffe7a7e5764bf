"""A Transformer block on the residual stream, wired as models/transformer/block.py:

    sequential: x = post(x + out(attn(in(x)))), then the same around the FFN
    parallel:   h = in(x); x = post(x + out_a(attn(h)) + out_f(ffn(h)))
    parallel, separate norms: x = x + out_a(attn(in_a(x))) + out_f(ffn(in_f(x)))

`out` ends with model.residual_scale's factor. pre: `in` is a norm; post: `post`; sandwich: `in` and `out`; output: `out`. With
pre-norm, each residual add and the next norm are one Skip*Normalization node (with
separate parallel norms, the FFN's input norm is a plain norm of that sum).
"""

from __future__ import annotations

from typing import Callable

from light_llm.exports.onnx_lowering.constant_factors import scaled
from light_llm.exports.onnx_lowering.ffn import ffn
from light_llm.exports.onnx_lowering.norm import ResidualStream, norm

Attend = Callable[[str], str]  # normalised input → attention output


def write_block(stream: ResidualStream, block_ir, attend: Attend) -> None:
    if block_ir.parallel:
        _parallel(stream, block_ir, attend)
    else:
        _sequential(stream, block_ir, attend)


def _sequential(stream: ResidualStream, ir, attend: Attend) -> None:
    prefix = f"blocks.{ir.index}"
    for part, run in (("attention", attend), ("ffn", lambda h: ffn(stream.g, stream.weights, f"{prefix}.ffn", ir.ffn, h))):
        h = _input(stream, ir, f"{prefix}.{part}_norm_in")
        stream.add(_output(stream, ir, f"{prefix}.{part}_norm_out", run(h)))
        if ir.placement == "post":
            stream.replace(stream.normed(f"{prefix}.{part}_norm_post", ir.norm))


def _parallel(stream: ResidualStream, ir, attend: Attend) -> None:
    prefix = f"blocks.{ir.index}"
    separate = ir.parallel_norms == "separate"
    h = _input(stream, ir, f"{prefix}.attention_norm_in" if separate else f"{prefix}.norm_in")
    h_ffn = _input(stream, ir, f"{prefix}.ffn_norm_in") if separate else h
    attended = _output(stream, ir, f"{prefix}.attention_norm_out", attend(h))
    fed = _output(stream, ir, f"{prefix}.ffn_norm_out", ffn(stream.g, stream.weights, f"{prefix}.ffn", ir.ffn, h_ffn))
    stream.add(attended)
    stream.add(fed)
    if ir.placement == "post":
        stream.replace(stream.normed(f"{prefix}.norm_post", ir.norm))


def _input(stream: ResidualStream, ir, name: str) -> str:
    return stream.normed(name, ir.norm) if ir.placement in ("pre", "sandwich") else stream.value()


def _output(stream: ResidualStream, ir, name: str, x: str) -> str:
    """The sub-layer's output as the residual add reads it: normed where the placement has an
    output norm, then times model.residual_scale."""
    x = norm(stream.g, stream.weights, name, ir.norm, x) if ir.placement in ("sandwich", "output") else x
    return scaled(stream.g, x, ir.residual_scale, f"/blocks.{ir.index}/residual_scale")
