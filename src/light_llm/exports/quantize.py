"""Weight-only quantization of an exported graph, tensor by tensor.

Every MatMul whose weight is an initializer (directly, or through a Transpose as a tied
LM head is traced) becomes a com.microsoft MatMulNBits, the LM head included; every
embedding Gather on an initializer becomes a com.microsoft GatherBlockQuantized. Where the
embedding and a MatMul weight are the same matrix (tied weights: the same initializer, or
equal contents), both read one quantized copy, as onnxruntime-genai's model builder does.
Blocks of 32 along the input features by default (see quantize_blocks.py), or
`block_size` (16 to 256, as onnxruntime-genai's builder offers): larger blocks store fewer
scales and decode faster, at some cost in accuracy; activations are computed in int8
(accuracy_level 4), onnxruntime's fast path on CPU.

- int4: 4-bit codes, symmetric with searched scales (measured on the demo model:
  asymmetric codes gave no better logits and need zero points, so a larger file);
- int8: 8-bit codes, the same layout; the embedding too (its Gather costs nothing at
  8 bits and the file shrinks by the vocabulary × d_model × 3 bytes).

The graph is read without its external data and each weight is read, quantized and
dropped one at a time, so the peak memory is one graph plus one tensor, on any graph
whose weights are initializers (the traced standard-ops graph and the fused one alike).
Attention, norms and everything else stay fp32. The nodes' debug metadata (torch.onnx
stack traces and module names, about 1 kB a node) is left out of the quantized file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, quantize_rows_in_chunks
from light_llm.schemas.export import DEFAULT_QUANTIZE_BLOCK_SIZE, QUANTIZE_BLOCK_SIZES

QUANTIZATIONS = ("int8", "int4")
BITS = {"int4": 4, "int8": 8}
ACCURACY_LEVEL = 4  # int8 compute of the int4/int8 weights
SYMMETRIC = True
MS_DOMAIN = "com.microsoft"
PROTOBUF_LIMIT = 2 * 1024**3 - 64 * 1024**2  # below protobuf's 2 GB, room for the graph itself


@dataclass
class QuantizeSummary:
    matmuls: int = 0  # MatMul nodes now MatMulNBits
    gathers: int = 0  # Gather nodes now GatherBlockQuantized
    shared: int = 0  # of those gathers, reading a MatMul's quantized weight (tied)


def quantize(source: Path, target: Path, method: str, on_weight=None,
             block_size: int = DEFAULT_QUANTIZE_BLOCK_SIZE) -> QuantizeSummary:
    """Writes the quantized graph of `source` to `target` (both model.onnx files; the
    target keeps its weights inline up to 2 GB, beside it as `<target>.data` above).
    `on_weight(done, total)` follows the MatMuls and Gathers looked at."""
    import onnx

    check_quantization(method, block_size)
    model = onnx.load(str(source), load_external_data=False)
    summary = _Pass(model, Path(source).parent, BITS[method], block_size, on_weight).run()
    _save(model, Path(target))
    return summary


def check_quantization(method: str, block_size: int = DEFAULT_QUANTIZE_BLOCK_SIZE) -> None:
    from light_llm.exports.result import ExportError

    if method not in QUANTIZATIONS:
        raise ExportError(f"quantize={method!r}: allowed: {', '.join(QUANTIZATIONS)}")
    if block_size not in QUANTIZE_BLOCK_SIZES:
        raise ExportError(f"quantize block size {block_size}: allowed: {', '.join(map(str, QUANTIZE_BLOCK_SIZES))}")


def quantize_in_place(path: Path, method: str, on_weight=None,
                      block_size: int = DEFAULT_QUANTIZE_BLOCK_SIZE) -> QuantizeSummary:
    """Replaces `path` (a model.onnx) by its quantized graph; the fp32 external data
    files it read are removed once the quantized graph is in place. A quantized graph
    over 2 GB keeps its weights in `<path>.quantized.data`."""
    import os

    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    path = Path(path)
    proto = onnx.load(str(path), load_external_data=False)
    data_files = {ExternalDataInfo(tensor).location for tensor in proto.graph.initializer
                  if uses_external_data(tensor)}
    del proto
    staged = path.with_name(f"{path.name}.quantized")
    summary = quantize(path, staged, method, on_weight, block_size)
    os.replace(staged, path)
    for name in data_files - {f"{staged.name}.data"}:
        (path.parent / name).unlink(missing_ok=True)
    return summary


class _Pass:
    def __init__(self, model, base_dir: Path, bits: int, block_size: int, on_weight=None):
        self.model, self.graph, self.base_dir = model, model.graph, base_dir
        self.bits, self.block_size = bits, block_size
        self.on_weight = on_weight or (lambda done, total: None)
        self.initializers = {tensor.name: tensor for tensor in self.graph.initializer}
        self.producers = {output: node for node in self.graph.node for output in node.output}
        self.quantized: dict[str, _Written] = {}  # by source initializer name
        self.by_content: dict[tuple, _Written] = {}  # by (shape, digest) of the [N, K] rows
        self.summary = QuantizeSummary()
        self.prologue: list = []  # Reshape nodes of shared weights, run first

    def run(self) -> QuantizeSummary:
        import onnx

        embeddings = {self._gather_rows_source(node) for node in self.graph.node if node.op_type == "Gather"}
        shapes = {tuple(self.initializers[name].dims) for name in embeddings if name}
        replaced: dict[int, list] = {}
        matmuls = [index for index, node in enumerate(self.graph.node)
                   if node.op_type == "MatMul" and node.domain in ("", "ai.onnx")]
        gathers = [index for index, node in enumerate(self.graph.node) if node.op_type == "Gather"]
        for done, index in enumerate(matmuls + gathers, 1):  # MatMuls first: a tied Gather reuses their codes
            node = self.graph.node[index]
            replaced[index] = self._matmul(node, shapes) if node.op_type == "MatMul" else self._gather(node)
            self.on_weight(done, len(matmuls) + len(gathers))
        nodes = []
        for index, node in enumerate(self.graph.node):
            nodes.extend(replaced.get(index) or [node])
        for node in nodes:  # torch.onnx's per-node stack traces: ~1 kB a node, no use to a runtime
            del node.metadata_props[:]
        del self.graph.node[:]
        self.graph.node.extend(self.prologue + nodes)
        self._drop_unused()
        self._read_external_data()
        if not any(entry.domain == MS_DOMAIN for entry in self.model.opset_import):
            self.model.opset_import.append(onnx.helper.make_opsetid(MS_DOMAIN, 1))
        return self.summary

    # MatMul → MatMulNBits

    def _matmul(self, node, embedding_shapes: set[tuple]):
        import onnx

        source, transposed = self._matmul_weight(node)
        if source is None:
            return None
        written = self._quantized_weight(source, transposed, embedding_shapes)
        rows, columns = written.weight.rows, written.weight.columns
        inputs = [node.input[0], written.data, written.scales]
        if written.zero_points:
            inputs.append(written.zero_points)
        self.summary.matmuls += 1
        return [onnx.helper.make_node(
            "MatMulNBits", inputs, list(node.output), name=f"{node.name or node.output[0]}_Q{self.bits}",
            domain=MS_DOMAIN, K=columns, N=rows, bits=self.bits, block_size=self.block_size,
            accuracy_level=ACCURACY_LEVEL,
        )]

    def _matmul_weight(self, node) -> tuple[str | None, bool]:
        """(initializer name, stored as [N, K]) of the MatMul's weight, or (None, _)."""
        weight = node.input[1]
        if self._is_matrix(weight):
            return weight, False  # stored [K, N]
        producer = self.producers.get(weight)
        if (producer is not None and producer.op_type == "Transpose" and self._is_matrix(producer.input[0])
                and _perm(producer) in (None, [1, 0])):
            return producer.input[0], True  # Transpose([N, K]) → [K, N]: a tied LM head
        return None, False

    def _quantized_weight(self, source: str, rows_stored: bool, embedding_shapes: set[tuple]) -> "_Written":
        key = f"{source}:{'rows' if rows_stored else 'columns'}"
        if key in self.quantized:
            return self.quantized[key]
        matrix = self._array(source)
        rows = matrix if rows_stored else np.ascontiguousarray(matrix.T)
        content = _content_key(rows) if rows.shape in embedding_shapes else None
        weight = quantize_rows_in_chunks(rows, self.bits, self.block_size, SYMMETRIC)
        written = self._write(f"{source}_Q{self.bits}", weight)
        self.quantized[key] = written
        if rows_stored:
            self.quantized[f"{source}:rows"] = written
        if content is not None:
            self.by_content[content] = written
        return written

    # Gather → GatherBlockQuantized

    def _gather_rows_source(self, node) -> str | None:
        data = node.input[0]
        if node.domain in ("", "ai.onnx") and self._is_matrix(data) and _axis(node) == 0:
            return data
        return None

    def _gather(self, node):
        import onnx

        source = self._gather_rows_source(node)
        if source is None:
            return None
        written = self.quantized.get(f"{source}:rows")
        if written is None:
            written = self.by_content.get(_content_key(self._array(source)))
        shared = written is not None
        if not shared:
            weight = quantize_rows_in_chunks(self._array(source), self.bits, self.block_size, SYMMETRIC)
            written = self._write(f"{source}_Q{self.bits}", weight, flat=True)
            self.quantized[f"{source}:rows"] = written
        data = self._flat_data(written)
        weight = written.weight
        padded = weight.blocks * self.block_size
        gathered = node.output[0] if padded == weight.columns else f"{node.output[0]}_padded"
        inputs = [data, node.input[1], written.scales] + ([written.zero_points] if written.zero_points else [])
        nodes = [onnx.helper.make_node(
            "GatherBlockQuantized", inputs, [gathered], name=f"{node.name or node.output[0]}_Q{self.bits}",
            domain=MS_DOMAIN, bits=self.bits, block_size=self.block_size, gather_axis=0, quantize_axis=1,
        )]
        if gathered != node.output[0]:  # rows padded to whole blocks: drop the padding
            nodes.append(onnx.helper.make_node(
                "Slice", [gathered, self._constant([0]), self._constant([weight.columns]),
                          self._constant([-1])], [node.output[0]], name=f"{gathered}_slice"))
        self.summary.gathers += 1
        self.summary.shared += shared
        return nodes

    def _flat_data(self, written: "_Written") -> str:
        """The [N, blocks, bytes] codes as GatherBlockQuantized's [N, blocks × bytes]: a
        Reshape where MatMulNBits reads the same initializer, else stored flat."""
        import onnx

        if written.flat:
            return written.flat
        rows = written.weight.rows
        flat_shape = [rows, written.weight.data[1] * written.weight.data[2]]
        written.flat = f"{written.data}_flat"
        self.prologue.append(onnx.helper.make_node(
            "Reshape", [written.data, self._constant(flat_shape)], [written.flat], name=f"{written.data}_reshape"))
        return written.flat

    # initializers

    def _write(self, name: str, weight: BlockQuantized, flat: bool = False) -> "_Written":
        """`flat`: codes stored as [N, blocks × bytes], GatherBlockQuantized's layout."""
        from onnx import numpy_helper

        data = weight.data.reshape(weight.rows, -1) if flat else weight.data
        tensors = [numpy_helper.from_array(data, name),
                   numpy_helper.from_array(weight.scales, f"{name}_scales")]
        if weight.zero_points is not None:
            tensors.append(numpy_helper.from_array(weight.zero_points, f"{name}_zero_points"))
        self.graph.initializer.extend(tensors)
        return _Written(weight=_Shape.of(weight), data=name, scales=f"{name}_scales",
                        zero_points=f"{name}_zero_points" if weight.zero_points is not None else "",
                        flat=name if flat else "")

    def _constant(self, values: list[int]) -> str:
        from onnx import numpy_helper

        name = "quantize_shape_" + "_".join(str(value).replace("-", "m") for value in values)
        if name not in self.initializers:
            tensor = numpy_helper.from_array(np.array(values, dtype=np.int64), name)
            self.graph.initializer.append(tensor)
            self.initializers[name] = tensor
        return name

    def _array(self, name: str) -> np.ndarray:
        from onnx import numpy_helper

        return numpy_helper.to_array(self.initializers[name], str(self.base_dir)).astype(np.float32, copy=False)

    def _is_matrix(self, name: str) -> bool:
        tensor = self.initializers.get(name)
        return tensor is not None and len(tensor.dims) == 2 and tensor.data_type in _FLOAT_TYPES

    def _drop_unused(self) -> None:
        """Removes the fp32 weights and Transposes nothing reads any more."""
        while True:
            read = {name for node in self.graph.node for name in node.input}
            read |= {output.name for output in self.graph.output}
            dead = [node for node in self.graph.node
                    if node.op_type == "Transpose" and not any(out in read for out in node.output)]
            if not dead:
                break
            for node in dead:
                self.graph.node.remove(node)
        kept = [tensor for tensor in self.graph.initializer if tensor.name in read]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept)
        produced = {output for node in self.graph.node for output in node.output}
        values = [info for info in self.graph.value_info if info.name in produced]
        del self.graph.value_info[:]
        self.graph.value_info.extend(values)

    def _read_external_data(self) -> None:
        """Brings the weights left in fp32 (norms, biases) inline: the source's data file
        is not kept beside the quantized graph."""
        from onnx import numpy_helper
        from onnx.external_data_helper import uses_external_data

        for index, tensor in enumerate(self.graph.initializer):
            if uses_external_data(tensor):
                array = numpy_helper.to_array(tensor, str(self.base_dir))
                self.graph.initializer[index].CopyFrom(numpy_helper.from_array(array, tensor.name))


@dataclass(frozen=True)
class _Shape:
    rows: int
    columns: int
    blocks: int
    data: tuple

    @classmethod
    def of(cls, weight: BlockQuantized) -> "_Shape":
        return cls(weight.rows, weight.columns, weight.blocks, weight.data.shape)


@dataclass
class _Written:
    weight: _Shape
    data: str
    scales: str
    zero_points: str
    flat: str = ""


_FLOAT_TYPES = {1}  # float32: the scales are fp32, as the activations must be


def _perm(node) -> list[int] | None:
    for attribute in node.attribute:
        if attribute.name == "perm":
            return list(attribute.ints)
    return None


def _axis(node) -> int:
    for attribute in node.attribute:
        if attribute.name == "axis":
            return attribute.i
    return 0


def _content_key(rows: np.ndarray) -> tuple:
    return rows.shape, hashlib.sha1(np.ascontiguousarray(rows, dtype=np.float32).tobytes()).hexdigest()


def _save(model, target: Path) -> None:
    import onnx

    if model.ByteSize() < PROTOBUF_LIMIT:
        onnx.save(model, str(target))
    else:
        onnx.save(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=f"{target.name}.data", size_threshold=1024)
