"""Weight-only quantization of an exported graph, tensor by tensor.

Every MatMul whose weight is an initializer (directly, or through a Transpose as a tied
LM head is traced) becomes a com.microsoft MatMulNBits, the LM head included; every
embedding Gather on an initializer becomes a com.microsoft GatherBlockQuantized. Where the
embedding and a MatMul weight are the same matrix (tied weights: the same initializer, or
equal contents), both read one quantized copy, as onnxruntime-genai's model builder does.
Blocks of 32 along the input features by default (see quantize_blocks.py), or
`block_size` (16 to 256, as onnxruntime-genai's builder offers): larger blocks store fewer
scales and decode faster, at some cost in accuracy. `accuracy` (ACCURACY_LEVELS): the
MatMulNBits activations in int8 (accuracy_level 4, onnxruntime's fast path on CPU; the
default), fp32 (accuracy_level 0: a grid-coded weight then computes exactly what the
fp32 model does) or fp32 for the LM head alone ("fp32-head": the weights of the
embedding's shape, whose int8 activations cost an imported GGUF most); an 8-bit weight at
fp32 becomes two 4-bit MatMulNBits of its codes' high and low nibbles, added
(quantize_blocks.nibbles: onnxruntime's CPU kernel computes 8 bits with fp32 activations
by dequantizing the whole matrix at every call).

- int4: 4-bit codes; int8: 8-bit codes, the embedding too (its Gather costs nothing at
  8 bits and the file shrinks by the vocabulary × d_model × 3 bytes);
- each weight's codes by `quantize_method` (quantize_blocks.py: "symmetric" or
  "asymmetric", with zero points), unless the grid fit (quantize_grid.py) finds the weight
  on a GGUF grid: then its exact codes, at that grid's bits (Q8_0: 8 bits in an int4
  export), and for Q4_1 an offset per block: the MatMulNBits is followed by a MatMul of
  the input's block sums by the offsets, added to its output;
- mixed precision (`int8_share`, int4 only): the MatMul weights off a grid whose 4-bit
  rounding costs the most error per byte (quantize_mixed.py) kept at 8 bits, up to that
  share of those weights' parameters (the embedding and a tied LM head aside: `embedding_bits`).

`QuantizeSummary.weights` records each weight's choice (light_llm.json "quantize_weights").

The graph is read without its external data and each weight is read, quantized and
dropped one at a time, so the peak memory is one graph plus one tensor, on any graph
whose weights are initializers (the traced standard-ops graph and the fused one alike).
The fused form's MoE nodes become QMoE nodes of int4/int8 experts (quantize_moe.py).
Attention, norms and everything else stay fp32. The nodes' debug metadata (torch.onnx
stack traces and module names, about 1 kB a node) is left out of the quantized file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, nibbles, quantize_rows_in_chunks
from light_llm.exports.quantize_grid import fit_grid
from light_llm.exports.quantize_mixed import Sensitivity, most_sensitive, rounding_error
from light_llm.exports.quantize_moe import quantize_moe_nodes
from light_llm.schemas.export import DEFAULT_QUANTIZE_BLOCK_SIZE, DEFAULT_QUANTIZE_METHOD, QUANTIZE_BLOCK_SIZES

QUANTIZATIONS = ("int8", "int4")
BITS = {"int4": 4, "int8": 8}
# MatMulNBits' accuracy_level (4: int8 activations, 0: fp32) of (the LM head, every other weight)
ACCURACY_LEVELS = {"int8": (4, 4), "fp32-head": (0, 4), "fp32": (0, 0)}
ACCURACY_LEVEL = 4  # QMoE's: its CPU kernel has no fp32 path
METHODS = ("symmetric", "asymmetric", "gptq", "gptq-symmetric")  # the first two: quantize_blocks.py; gptq: quantize_gptq.py
GPTQ_SCALE_RULES = {"gptq": "asymmetric", "gptq-symmetric": "symmetric"}  # the blocks' scales and zero points
MS_DOMAIN = "com.microsoft"
PROTOBUF_LIMIT = 2 * 1024**3 - 64 * 1024**2  # below protobuf's 2 GB, room for the graph itself


@dataclass(frozen=True)
class QuantizeOptions:
    """How each weight is quantized: `precision` int4/int8, `block_size` weights per scale,
    `method` (METHODS), `grid_fit`: exact codes for weights on a GGUF grid; `embedding_bits`:
    of the embedding and a tied LM head (0: the precision's, or its grid's; named, they win
    over a grid of more bits); `int8_share`: of the other MatMul weights' parameters, the
    most sensitive kept at 8 bits in an int4 export; `accuracy`: the MatMulNBits activations'
    precision (ACCURACY_LEVELS); `calibration`
    (gptq): (the MatMul inputs' names, the fp32 graph) → their Gram matrices XᵀX
    (quantize_calibration.py)."""

    precision: str = "int4"
    block_size: int = DEFAULT_QUANTIZE_BLOCK_SIZE
    method: str = DEFAULT_QUANTIZE_METHOD
    grid_fit: bool = True
    embedding_bits: int = 0  # the embedding's and a tied LM head's bits; 0: the precision's
    int8_share: float = 0.0  # of the MatMul weights' parameters (int4): the most sensitive at 8 bits
    accuracy: str = "int8"  # the MatMulNBits activations: int8, fp32-head or fp32
    calibration: Callable[[list[str], Path], dict[str, np.ndarray]] | None = field(default=None, compare=False)
    calibration_source: str = ""  # what the calibration read, for light_llm.json

    @property
    def bits(self) -> int:
        return BITS[self.precision]

    def to_dict(self) -> dict:
        record = {"quantize": self.precision, "quantize_block_size": self.block_size,
                  "quantize_method": self.method, "quantize_grid_fit": self.grid_fit,
                  "quantize_embedding": f"int{self.embedding_bits or self.bits}",
                  "quantize_int8_share": self.int8_share, "quantize_accuracy": self.accuracy,
                  "quantize_accuracy_levels": dict(zip(("lm_head", "others"), ACCURACY_LEVELS[self.accuracy]))}
        return record | ({"quantize_calibration": self.calibration_source} if self.calibration_source else {})


@dataclass
class QuantizeSummary:
    matmuls: int = 0  # MatMul nodes now MatMulNBits
    gathers: int = 0  # Gather nodes now GatherBlockQuantized
    shared: int = 0  # of those gathers, reading a MatMul's quantized weight (tied)
    weights: dict[str, str] = field(default_factory=dict)  # source initializer → "int4 asymmetric", "int8 q8_0 grid"…
    sensitivity: dict = field(default_factory=dict)  # int8_share: {"measure": …, "errors": {weight: error per parameter}}

    def counts(self) -> dict[str, int]:
        """How many weights took each choice."""
        return dict(Counter(self.weights.values()))


def quantize(source: Path, target: Path, options: QuantizeOptions, on_weight=None) -> QuantizeSummary:
    """Writes the quantized graph of `source` to `target` (both model.onnx files; the
    target keeps its weights inline up to 2 GB, beside it as `<target>.data` above).
    `on_weight(done, total)` follows the MatMuls and Gathers looked at."""
    import onnx

    check_quantization(options.precision, options.block_size, options.method, options.int8_share, options.accuracy)
    model = onnx.load(str(source), load_external_data=False)
    summary = _Pass(model, Path(source), options, on_weight).run()
    _save(model, Path(target))
    return summary


def scale_rule(method: str) -> str:
    """How `method` sets a block's scale and zero point (quantize_blocks.block_scales)."""
    return GPTQ_SCALE_RULES.get(method, method)


def calibrated(method: str) -> bool:
    """Whether `method` reads calibration text (the gptq methods)."""
    return method in GPTQ_SCALE_RULES


def check_quantization(precision: str, block_size: int = DEFAULT_QUANTIZE_BLOCK_SIZE,
                       method: str = DEFAULT_QUANTIZE_METHOD, int8_share: float = 0.0,
                       accuracy: str = "int8") -> None:
    from light_llm.exports.result import ExportError

    if precision not in QUANTIZATIONS:
        raise ExportError(f"quantize={precision!r}: allowed: {', '.join(QUANTIZATIONS)}")
    if block_size not in QUANTIZE_BLOCK_SIZES:
        raise ExportError(f"quantize block size {block_size}: allowed: {', '.join(map(str, QUANTIZE_BLOCK_SIZES))}")
    if method not in METHODS:
        raise ExportError(f"quantize method {method!r}: allowed: {', '.join(METHODS)}")
    if not 0.0 <= int8_share <= 1.0:
        raise ExportError(f"quantize int8 share {int8_share:g}: a share of the weights from 0 to 1")
    if int8_share and precision != "int4":
        raise ExportError(f"a quantize int8 share applies to int4 exports only (quantize is {precision})")
    if accuracy not in ACCURACY_LEVELS:
        raise ExportError(f"quantize accuracy {accuracy!r}: allowed: {', '.join(ACCURACY_LEVELS)}")


def quantize_in_place(path: Path, options: QuantizeOptions, on_weight=None) -> QuantizeSummary:
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
    summary = quantize(path, staged, options, on_weight)
    os.replace(staged, path)
    for name in data_files - {f"{staged.name}.data"}:
        (path.parent / name).unlink(missing_ok=True)
    return summary


class _Pass:
    def __init__(self, model, source: Path, options: QuantizeOptions, on_weight=None):
        self.model, self.graph, self.source, self.base_dir = model, model.graph, Path(source), Path(source).parent
        self.options = options
        self.block_sums: dict[tuple[str, int, int], str] = {}  # (input, K, block size) → its block sums
        self.on_weight = on_weight or (lambda done, total: None)
        self.initializers = {tensor.name: tensor for tensor in self.graph.initializer}
        self.producers = {output: node for node in self.graph.node for output in node.output}
        self.quantized: dict[str, _Written] = {}  # by source initializer name
        self.by_content: dict[tuple, _Written] = {}  # by (shape, digest) of the [N, K] rows
        self.summary = QuantizeSummary()
        self.prologue: list = []  # Reshape nodes of shared weights, run first
        self.grams: dict[str, np.ndarray] | None = None  # gptq: XᵀX of each MatMul input, once one is needed
        self.matmuls: list = []
        self.promoted: set[str] = set()  # weights kept at 8 bits (int8_share)

    def run(self) -> QuantizeSummary:
        import onnx

        embeddings = {self._gather_rows_source(node) for node in self.graph.node if node.op_type == "Gather"}
        shapes = {tuple(self.initializers[name].dims) for name in embeddings if name}
        replaced: dict[int, list] = {}
        matmuls = [index for index, node in enumerate(self.graph.node)
                   if node.op_type == "MatMul" and node.domain in ("", "ai.onnx")]
        gathers = [index for index, node in enumerate(self.graph.node) if node.op_type == "Gather"]
        self.matmuls = [self.graph.node[index] for index in matmuls]
        if self.options.int8_share:
            self.promoted = self._most_sensitive(shapes)
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
        quantize_moe_nodes(self.graph, self._array, self.options.bits, self.options.block_size,
                           scale_rule(self.options.method),
                           ACCURACY_LEVEL, self._record)
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
        written = self._quantized_weight(source, transposed, embedding_shapes, node.input[0])
        weight = written.weight
        self.summary.matmuls += 1
        name = f"{node.name or node.output[0]}_Q{weight.bits}"
        output = f"{node.output[0]}_before_offsets" if written.offsets else node.output[0]
        if written.nibbles:  # an 8-bit weight at fp32: its high and low nibbles' products, added
            high, low = written.nibbles
            return [self._matmul_nbits(f"{name}_high", node.input[0], high, f"{output}_high"),
                    self._matmul_nbits(f"{name}_low", node.input[0], low, f"{output}_low"),
                    onnx.helper.make_node("Add", [f"{output}_high", f"{output}_low"], [output], name=f"{name}_add")]
        nodes = [self._matmul_nbits(name, node.input[0], written, output)]
        if written.offsets:  # + (the input's block sums) · offsetsᵀ
            sums, first = self._block_sums(node.input[0], weight.columns, weight.block_size)
            nodes = first + nodes + [onnx.helper.make_node("MatMul", [sums, written.offsets], [f"{name}_offsets"],
                                            name=f"{name}_offsets"),
                      onnx.helper.make_node("Add", [output, f"{name}_offsets"], [node.output[0]],
                                            name=f"{name}_add_offsets")]
        return nodes

    def _matmul_nbits(self, name: str, activation: str, written: "_Written", output: str):
        import onnx

        weight = written.weight
        inputs = [activation, written.data, written.scales] + ([written.zero_points] if written.zero_points else [])
        return onnx.helper.make_node(
            "MatMulNBits", inputs, [output], name=name, domain=MS_DOMAIN, K=weight.columns, N=weight.rows,
            bits=weight.bits, block_size=weight.block_size, accuracy_level=written.accuracy_level,
        )

    def _block_sums(self, activation: str, columns: int, block_size: int) -> tuple[str, list]:
        """The sum of `activation`'s features in each block: a MatMul by a 0/1 matrix
        [K, blocks], one per input (the projections that read one input share it); and the
        node that makes it, where this is its first reader (placed before that reader)."""
        import onnx
        from onnx import numpy_helper

        key = (activation, columns, block_size)
        if key not in self.block_sums:
            blocks = -(-columns // block_size)
            indicator = (np.arange(columns)[:, None] // block_size == np.arange(blocks)[None, :]).astype(np.float32)
            matrix = f"quantize_block_sums_{columns}_{block_size}"
            if matrix not in self.initializers:
                self.initializers[matrix] = numpy_helper.from_array(indicator, matrix)
                self.graph.initializer.append(self.initializers[matrix])
            self.block_sums[key] = f"{activation}_block_sums_{block_size}"
            return self.block_sums[key], [onnx.helper.make_node("MatMul", [activation, matrix],
                                                                [self.block_sums[key]], name=self.block_sums[key])]
        return self.block_sums[key], []

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

    def _quantized_weight(self, source: str, rows_stored: bool, embedding_shapes: set[tuple],
                          activation: str) -> "_Written":
        key = f"{source}:{'rows' if rows_stored else 'columns'}"
        if key in self.quantized:
            return self.quantized[key]
        rows = self._rows(source, rows_stored)
        content = _content_key(rows) if rows.shape in embedding_shapes else None
        weight = self._codes(source, rows, activation=activation, embedding=rows.shape in embedding_shapes)
        written = self._write(f"{source}_Q{weight.bits}", weight)
        head, others = ACCURACY_LEVELS[self.options.accuracy]
        written.accuracy_level = head if rows.shape in embedding_shapes else others
        if written.accuracy_level == 0 and weight.bits == 8:
            written.nibbles = tuple(self._write(f"{source}_Q8_{part}", half)
                                    for part, half in zip(("high", "low"), nibbles(weight)))
            for half in written.nibbles:
                half.accuracy_level = 0
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
        if written is not None and written.offsets:  # GatherBlockQuantized adds no offsets: a copy of its own
            written = self.quantized.get(f"{source}:gather")
        shared = written is not None
        if not shared:
            weight = self._codes(source, self._array(source), offsets=False, embedding=True)
            written = self._write(f"{source}_Q{weight.bits}_gather", weight, flat=True)
            self.quantized[f"{source}:gather"] = written
        data = self._flat_data(written)
        weight = written.weight
        padded = weight.blocks * weight.block_size
        gathered = node.output[0] if padded == weight.columns else f"{node.output[0]}_padded"
        inputs = [data, node.input[1], written.scales] + ([written.zero_points] if written.zero_points else [])
        nodes = [onnx.helper.make_node(
            "GatherBlockQuantized", inputs, [gathered], name=f"{node.name or node.output[0]}_Q{weight.bits}",
            domain=MS_DOMAIN, bits=weight.bits, block_size=weight.block_size, gather_axis=0, quantize_axis=1,
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

    # codes

    def _grams(self) -> dict[str, np.ndarray]:
        """XᵀX of the input of every MatMul that will be quantized (options.calibration),
        computed when the first weight off a grid asks (a model wholly on a GGUF grid is
        never calibrated); none without calibration (each weight then by gptq's scale rule)."""
        if self.grams is None:
            inputs = sorted({node.input[0] for node in self.matmuls if self._matmul_weight(node)[0] is not None})
            self.grams = {} if self.options.calibration is None else self.options.calibration(inputs, self.source)
        return self.grams

    def _most_sensitive(self, embedding_shapes: set[tuple]) -> set[str]:
        """The MatMul weights kept at 8 bits (quantize_mixed.py): of those off a grid and not
        the embedding's shape, measured against their input's Gram matrix where gptq
        calibrated every one, else by their relative error; recorded in the summary."""
        candidates: dict[str, tuple[bool, str]] = {}  # source → (stored as [N, K], its input)
        for node in self.matmuls:
            source, rows_stored = self._matmul_weight(node)
            if source is not None and source not in candidates:
                candidates[source] = (rows_stored, node.input[0])
        block_size, rule = self.options.block_size, scale_rule(self.options.method)
        off_grid = {}
        for source, (rows_stored, activation) in candidates.items():
            rows = self._rows(source, rows_stored)
            if rows.shape not in embedding_shapes and not (self.options.grid_fit and fit_grid(rows, block_size)):
                off_grid[source] = (rows_stored, activation)
        grams = self._grams() if off_grid and calibrated(self.options.method) else {}
        output = bool(off_grid) and all(activation in grams for _, activation in off_grid.values())
        measured = [Sensitivity(source, rounding_error(self._rows(source, rows_stored), block_size, rule,
                                                       grams[activation] if output else None),
                                int(np.prod(self.initializers[source].dims)))
                    for source, (rows_stored, activation) in off_grid.items()]
        self.summary.sensitivity = {"measure": "output" if output else "relative",
                                    "errors": {weight.name: weight.error for weight in measured}}
        return set(most_sensitive(measured, self.options.int8_share))

    def _rows(self, source: str, rows_stored: bool) -> np.ndarray:
        matrix = self._array(source)
        return matrix if rows_stored else np.ascontiguousarray(matrix.T)

    def _codes(self, source: str, rows: np.ndarray, offsets: bool = True, activation: str = "",
               embedding: bool = False) -> BlockQuantized:
        """`rows` [N, K] quantized as the options say (the grid fit first, where it finds a
        grid: without `offsets`, a grid that needs them is not taken; gptq where the rows'
        `activation` was calibrated, else its scale rule alone; an `embedding`'s rows, the
        tied LM head's too, at the options' embedding bits; a weight of `self.promoted` at 8
        bits); the choice goes to the summary under `source`."""
        from light_llm.exports.quantize_gptq import gptq_rows

        options = self.options
        bits = options.embedding_bits if embedding and options.embedding_bits else options.bits
        bits = 8 if source in self.promoted else bits
        fitted = fit_grid(rows, options.block_size) if options.grid_fit else None
        if embedding and options.embedding_bits and fitted is not None and fitted[1].bits > options.embedding_bits:
            fitted = None  # the embedding's named bits win over its grid's (a Q8_0 head at 4 bits)
        if fitted is not None and (offsets or fitted[1].offsets is None):
            grid, weight = fitted
            self._record(source, f"int{weight.bits} {grid} grid")
            return weight
        rule = scale_rule(options.method)
        if calibrated(options.method) and activation and activation in self._grams():
            self._record(source, f"int{bits} {options.method}")
            return gptq_rows(rows, self.grams[activation], bits, options.block_size, rule)
        self._record(source, f"int{bits} {rule}")
        return quantize_rows_in_chunks(rows, bits, options.block_size, rule)

    def _record(self, source: str, choice: str) -> None:
        recorded = self.summary.weights.get(source)
        self.summary.weights[source] = choice if recorded in (None, choice) else f"{recorded}; {choice}"

    # initializers

    def _write(self, name: str, weight: BlockQuantized, flat: bool = False) -> "_Written":
        """`flat`: codes stored as [N, blocks × bytes], GatherBlockQuantized's layout."""
        from onnx import numpy_helper

        data = weight.data.reshape(weight.rows, -1) if flat else weight.data
        tensors = [numpy_helper.from_array(data, name),
                   numpy_helper.from_array(weight.scales, f"{name}_scales")]
        if weight.zero_points is not None:
            tensors.append(numpy_helper.from_array(weight.zero_points, f"{name}_zero_points"))
        if weight.offsets is not None:  # [blocks, N]: the block sums' MatMul reads it as it is
            tensors.append(numpy_helper.from_array(np.ascontiguousarray(weight.offsets.T), f"{name}_offsets"))
        self.graph.initializer.extend(tensors)
        return _Written(weight=_Shape.of(weight), data=name, scales=f"{name}_scales",
                        zero_points=f"{name}_zero_points" if weight.zero_points is not None else "",
                        offsets=f"{name}_offsets" if weight.offsets is not None else "",
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
    bits: int
    block_size: int

    @classmethod
    def of(cls, weight: BlockQuantized) -> "_Shape":
        return cls(weight.rows, weight.columns, weight.blocks, weight.data.shape, weight.bits, weight.block_size)


@dataclass
class _Written:
    weight: _Shape
    data: str
    scales: str
    zero_points: str
    offsets: str = ""
    flat: str = ""
    nibbles: tuple["_Written", ...] = ()  # an 8-bit weight at fp32 accuracy: its 4-bit high and low halves
    accuracy_level: int = ACCURACY_LEVEL  # of its MatMulNBits


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
