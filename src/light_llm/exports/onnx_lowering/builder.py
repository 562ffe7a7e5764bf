"""A small helper around onnx.helper: named nodes, initializers and constants.

Every node gets a readable unique name (`/blocks.3/attention/GroupQueryAttention`), and
every output a name derived from it, so the written graph reads like the IR.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np
import onnx
from onnx import TensorProto, helper

from light_llm.exports.onnx_lowering.tensors import TensorStore

MS_DOMAIN = "com.microsoft"
T = TypeVar("T")


class GraphBuilder:
    """`portable`: standard ONNX ops only (else the fused form: onnxruntime's com.microsoft
    ops allowed); `tensors`: where initializers go as they are made (TensorStore.save
    writes the file)."""

    def __init__(self, tensors: TensorStore, portable: bool = False) -> None:
        self.portable = portable
        self.tensors = tensors
        self.nodes: list[onnx.NodeProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.value_info: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()
        self._once: dict[str, dict[Hashable, object]] = {}

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{name}_{n}"
        self._names.add(candidate)
        return candidate

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        *,
        scope: str,
        outputs: int | Sequence[str | None] = 1,
        domain: str = "",
        **attributes,
    ) -> list[str]:
        """Adds one node; returns its output names. `outputs`: a count of fresh names, or
        a list in which None asks for a fresh name and "" leaves an optional output out."""
        name = self._unique(f"{scope}/{op}")
        if isinstance(outputs, int):
            outputs = [None] * outputs
        outputs = [f"{name}/output_{i}" if out is None else out for i, out in enumerate(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=name,
                                           domain=domain, **attributes))
        return list(outputs)

    def op(self, op: str, *inputs: str, scope: str, domain: str = "", **attributes) -> str:
        """A node with one output."""
        return self.node(op, inputs, scope=scope, domain=domain, **attributes)[0]

    def initializer(self, name: str, array: np.ndarray) -> str:
        self.tensors.add(name, array)
        self._names.add(name)
        return name

    def constant(self, value, dtype=np.int64) -> str:
        """A small constant initializer, shared by every use of the same value."""
        array = np.asarray(value, dtype=dtype)
        label = "_".join(str(v) for v in array.flatten()[:4]) if array.size <= 4 else "table"
        return self.once("constants", (array.dtype.str, array.shape, array.tobytes()),
                         lambda _: self.initializer(self._unique(f"const/{array.dtype}/{label}"), array))

    def once(self, kind: str, key: Hashable, make: Callable[[int], T]) -> T:
        """What the graph computes once for every node that reads it (constants, masks, rotary tables):
        `make(n)` the first time `key` of `kind` is asked for, n the number made before it."""
        made = self._once.setdefault(kind, {})
        if key not in made:
            made[key] = make(len(made))
        return made[key]

    def add_input(self, name: str, elem_type: int, shape: Sequence[str | int]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        self._names.add(name)
        return name

    def declare_float(self, name: str) -> str:
        """Records that `name` is float32: onnx shape inference stops at com.microsoft ops,
        and tools such as onnxruntime's quantizer need the type of every MatMul output."""
        self.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
        return name

    def add_output(self, name: str, elem_type: int, shape: Sequence[str | int]) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def model(self, opset: int, metadata: dict[str, str]) -> onnx.ModelProto:
        """The model without its initializers (TensorStore.save adds them)."""
        graph = helper.make_graph(self.nodes, "light_llm", self.inputs, self.outputs,
                                  value_info=self.value_info)
        opsets = [helper.make_opsetid("", opset)]
        if any(node.domain == MS_DOMAIN for node in self.nodes):
            opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="light_llm")
        model.ir_version = 8 if opset <= 18 else 9 if opset <= 20 else 10
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        return model


FLOAT, INT64, INT32, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL
