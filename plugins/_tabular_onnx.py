"""skl2onnx converters for the custom transformers of :mod:`automl_guide_plugins.tabular_features`.

Imported only by the export stage. Each converter writes plain ONNX nodes that compute exactly what
the transformer's ``transform`` computes (the contract test checks parity).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
from skl2onnx.common.data_types import FloatTensorType

_DONE: set[type] = set()


class Nodes:
    """A little node writer over skl2onnx's container: one method per ONNX operator used."""

    def __init__(self, scope: Any, container: Any):
        self.scope, self.container = scope, container

    def const(self, value: Any, dtype: int = TensorProto.DOUBLE, scalar: bool = False) -> str:
        name = self.scope.get_unique_variable_name("const")
        array = np.asarray(value) if scalar else np.atleast_1d(np.asarray(value))
        self.container.add_initializer(name, dtype, list(array.shape), array.ravel().tolist())
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        domain = attrs.pop("op_domain", "")
        version = attrs.pop("op_version", None)
        self.container.add_node(op_type, inputs, [output], op_domain=domain, op_version=version,
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return output

    def floor_div(self, a: str, b: float) -> str:
        return self.op("Floor", [self.op("Div", [a, self.const(b)])])

    def lin(self, a: str, mul: float, add: float) -> str:
        return self.op("Add", [self.op("Mul", [a, self.const(mul)]), self.const(add)])


def _n_rows(operator: Any) -> Any:
    return operator.inputs[0].get_first_dimension()


def _shape_onehot(operator: Any) -> None:
    width = sum(len(c) for c in operator.raw_operator.encoder_.categories_)
    operator.outputs[0].type = FloatTensorType([_n_rows(operator), width])


def _shape_datetime(operator: Any) -> None:
    width = operator.inputs[0].get_second_dimension()
    operator.outputs[0].type = FloatTensorType([_n_rows(operator), 5 * width])


def _convert_onehot(scope: Any, operator: Any, container: Any) -> None:
    encoder = operator.raw_operator.encoder_
    sub = OnnxSubEstimator(encoder, operator.inputs[0], op_version=container.target_opset,
                           output_names=[operator.outputs[0].full_name])
    sub.add_to(scope, container)


def _shape_value_statistics(operator: Any) -> None:
    operator.outputs[0].type = FloatTensorType([_n_rows(operator),
                                                operator.raw_operator.n_features_out_])


def _convert_value_statistics(scope: Any, operator: Any, container: Any) -> None:
    """Per looked-up column: the value's table row (one LabelEncoder, unseen values to the last
    row), then the row gathered from the table; a pair's key from its two rows' numbers."""
    est = operator.raw_operator
    nodes = Nodes(scope, container)
    raw = operator.inputs[0].full_name
    key_kind = "keys_int64s" if est.integers else "keys_strings"
    blocks = [nodes.op("Cast", [raw], to=TensorProto.FLOAT)] if est.integers else []
    rows = {}
    for j, keys in zip(est.looked_up_, est.keys_):
        column = nodes.op("Gather", [raw, nodes.const(j, TensorProto.INT64, scalar=True)], axis=1)
        rows[j] = _row_of(nodes, column, keys, key_kind)
    if est.pair_ is not None:
        a, b = est.pair_
        key = nodes.op("Add", [nodes.op("Mul", [rows[a], nodes.const(est.pair_width_,
                                                                      TensorProto.INT64)]),
                               rows[b]])
        rows["pair"] = _row_of(nodes, key, est.pair_keys_, "keys_int64s")
    for j in list(rows):
        table = nodes.const(est.tables_[j], TensorProto.FLOAT)
        blocks.append(nodes.op("Gather", [table, rows[j]], axis=0))
    nodes.op("Concat", blocks, operator.outputs[0].full_name, axis=1)


def _row_of(nodes: Nodes, column: str, keys: np.ndarray, key_kind: str) -> str:
    """Each value's index in ``keys`` (int64), ``len(keys)`` when it is not one of them."""
    typed = [int(k) for k in keys] if key_kind == "keys_int64s" else [str(k) for k in keys]
    return nodes.op("LabelEncoder", [column], op_domain="ai.onnx.ml", op_version=2,
                    values_int64s=list(range(len(keys))), default_int64=len(keys),
                    **{key_kind: typed})


def _convert_datetime(scope: Any, operator: Any, container: Any) -> None:
    n = Nodes(scope, container)
    raw = operator.inputs[0].full_name
    missing = n.op("Equal", [raw, n.const(np.iinfo(np.int64).min, TensorProto.INT64)])
    fill = n.const(operator.raw_operator.fill_)
    seconds = n.op("Where", [missing, fill, n.op("Cast", [raw], to=TensorProto.DOUBLE)])
    days = n.floor_div(seconds, 86400.0)
    shifted = n.lin(days, 1.0, 3.0)
    weekday = n.op("Sub", [shifted, n.op("Mul", [n.floor_div(shifted, 7.0), n.const(7.0)])])
    in_day = n.op("Sub", [seconds, n.op("Mul", [days, n.const(86400.0)])])
    hour = n.floor_div(in_day, 3600.0)
    blocks = [days, weekday, hour, _month(n, days), n.op("Cast", [missing], to=TensorProto.DOUBLE)]
    joined = n.op("Concat", blocks, axis=1)
    n.op("Cast", [joined], operator.outputs[0].full_name, to=TensorProto.FLOAT)


def _month(n: Nodes, days: str) -> str:
    z = n.lin(days, 1.0, 719468.0)
    era = n.floor_div(z, 146097.0)
    doe = n.op("Sub", [z, n.op("Mul", [era, n.const(146097.0)])])
    yoe_num = n.op("Add", [n.op("Sub", [doe, n.floor_div(doe, 1460.0)]), n.floor_div(doe, 36524.0)])
    yoe = n.floor_div(n.op("Sub", [yoe_num, n.floor_div(doe, 146096.0)]), 365.0)
    year_days = n.op("Sub", [n.op("Add", [n.op("Mul", [yoe, n.const(365.0)]),
                                          n.floor_div(yoe, 4.0)]), n.floor_div(yoe, 100.0)])
    doy = n.op("Sub", [doe, year_days])
    mp = n.floor_div(n.lin(doy, 5.0, 2.0), 153.0)
    early = n.op("Less", [mp, n.const(10.0)])
    return n.op("Where", [early, n.lin(mp, 1.0, 3.0), n.lin(mp, 1.0, -9.0)])


def register(value_statistics: type, onehot: type, datetime: type) -> None:
    """Register the converters once per process."""
    table = [(value_statistics, _shape_value_statistics, _convert_value_statistics),
             (onehot, _shape_onehot, _convert_onehot),
             (datetime, _shape_datetime, _convert_datetime)]
    for cls, shape, convert in table:
        if cls not in _DONE:
            update_registered_converter(cls, f"AutomlGuide{cls.__name__}", shape, convert)
            _DONE.add(cls)
