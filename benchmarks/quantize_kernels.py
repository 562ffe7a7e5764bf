"""What onnxruntime's CPU kernels accept for blockwise weights, and at what speed: one
MatMulNBits (SmolLM2's FFN shape: K 576, N 1536, blocks of 32, batch 1 × 1 token) with
4 or 8 bits, without zero points (the symmetric form), with packed uint8 zero points and
with float (T1) zero points, at accuracy_level 0 (fp32 compute) and 4 (int8 compute);
GatherBlockQuantized (vocabulary 49152 × 576) with each kind of zero points at 4 and 8
bits. Per case: whether the session accepts it, its output against numpy's dequantized
product (relative error: at accuracy level 4 the activations are rounded to int8), and
the median µs per call of --runs runs of --calls calls each (2 threads).

    .venv/bin/python benchmarks/quantize_kernels.py [--runs 5] [--calls 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

K, N, BLOCK, VOCAB = 576, 1536, 32, 49152
RNG = np.random.default_rng(0)


def model(node, inputs, output, initializers):
    graph = helper.make_graph([node], "kernel", inputs, [output], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                   helper.make_opsetid("com.microsoft", 1)]).SerializeToString()


def unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    if bits == 8:
        return packed.astype(np.float32)[:, :count]
    codes = np.empty((packed.shape[0], packed.shape[1] * 2), np.float32)
    codes[:, 0::2], codes[:, 1::2] = packed & 15, packed >> 4
    return codes[:, :count]


def matmul_case(bits: int, zero_kind: str, accuracy: int):
    """(serialized model, the weight [N, K] it holds)."""
    blocks = K // BLOCK
    data = RNG.integers(0, 256, (N, blocks, BLOCK * bits // 8), dtype=np.uint8)
    scales = (RNG.random((N, blocks)) * 0.01 + 0.001).astype(np.float32)
    initializers = [numpy_helper.from_array(data, "B"), numpy_helper.from_array(scales.reshape(-1), "S")]
    codes = unpack(data.reshape(N, -1), bits, K).reshape(N, blocks, BLOCK)
    zero = np.full((N, blocks), float(1 << (bits - 1)), np.float32)
    if zero_kind == "uint8":
        packed = RNG.integers(0, 256, (N, -(-blocks * bits // 8)), dtype=np.uint8)
        initializers.append(numpy_helper.from_array(packed, "Z"))
        zero = unpack(packed, bits, blocks)
    elif zero_kind == "float":
        zero = (RNG.random((N, blocks)) * ((1 << bits) - 1)).astype(np.float32)
        initializers.append(numpy_helper.from_array(zero.reshape(-1), "Z"))
    node = helper.make_node("MatMulNBits", ["A", "B", "S"] + (["Z"] if zero_kind != "none" else []), ["Y"],
                            domain="com.microsoft", K=K, N=N, bits=bits, block_size=BLOCK, accuracy_level=accuracy)
    weight = ((codes - zero[:, :, None]) * scales[:, :, None]).reshape(N, K)
    return model(node, [helper.make_tensor_value_info("A", TensorProto.FLOAT, [None, K])],
                 helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, N]), initializers), weight


def gather_case(bits: int, zero_kind: str):
    blocks = K // BLOCK
    initializers = [numpy_helper.from_array(RNG.integers(0, 256, (VOCAB, K * bits // 8), dtype=np.uint8), "D"),
                    numpy_helper.from_array(RNG.random((VOCAB, blocks)).astype(np.float32), "S")]
    if zero_kind == "uint8":
        initializers.append(numpy_helper.from_array(
            RNG.integers(0, 256, (VOCAB, -(-blocks * bits // 8)), dtype=np.uint8), "Z"))
    elif zero_kind == "float":
        initializers.append(numpy_helper.from_array(RNG.random((VOCAB, blocks)).astype(np.float32), "Z"))
    node = helper.make_node("GatherBlockQuantized", ["D", "I", "S"] + (["Z"] if zero_kind != "none" else []), ["Y"],
                            domain="com.microsoft", bits=bits, block_size=BLOCK, gather_axis=0, quantize_axis=1)
    return model(node, [helper.make_tensor_value_info("I", TensorProto.INT64, [None])],
                 helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, K]), initializers)


def session(serialized: bytes, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = threads, 4
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def median_us(run, feeds: dict, runs: int, calls: int) -> float:
    for _ in range(50):
        run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            run(None, feeds)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def reason(error: Exception) -> str:
    """The sentence of onnxruntime's refusal that says why."""
    text = str(error).splitlines()[0]
    for marker in ("was false. ", "INVALID_GRAPH : "):
        text = text.split(marker)[-1]
    return text[:120]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, {args.threads} threads; MatMulNBits K {K}, N {N}, block {BLOCK}, one token")
    print("| op | bits | zero points | accuracy level | accepted | relative error | µs per call |")
    print("|---|---:|---|---:|---|---:|---:|")
    x = RNG.standard_normal((1, K)).astype(np.float32)
    for bits in (4, 8):
        for zero_kind in ("none", "uint8", "float"):
            for accuracy in (0, 4):
                serialized, weight = matmul_case(bits, zero_kind, accuracy)
                try:
                    sess = session(serialized, args.threads)
                except Exception as error:  # onnxruntime refuses the node: that is the finding
                    print(f"| MatMulNBits | {bits} | {zero_kind} | {accuracy} | no: {reason(error)} | | |")
                    continue
                expected = x @ weight.T
                error = np.abs(sess.run(None, {"A": x})[0] - expected).max() / np.abs(expected).max()
                print(f"| MatMulNBits | {bits} | {zero_kind} | {accuracy} | yes | {error:.1e} | "
                      f"{median_us(sess.run, {'A': x}, args.runs, args.calls):.1f} |", flush=True)
    ids = np.array([5, 7], np.int64)
    for bits in (4, 8):
        for zero_kind in ("none", "uint8", "float"):
            try:
                sess = session(gather_case(bits, zero_kind), args.threads)
            except Exception as error:  # refused: the finding
                print(f"| GatherBlockQuantized | {bits} | {zero_kind} | | no: {reason(error)} | | |")
                continue
            print(f"| GatherBlockQuantized | {bits} | {zero_kind} | | yes | | "
                  f"{median_us(sess.run, {'I': ids}, args.runs, args.calls):.1f} |", flush=True)


if __name__ == "__main__":
    main()
