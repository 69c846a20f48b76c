"""Graphs that import one domain at different versions are brought to one before they merge
(export.same_opsets): what the feature graph and a network graph, or an ensemble's members, need."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from automl_guide import ExportError, export


def _graph(nodes, opsets, name="g", inputs=("x",), output="y"):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(i, TensorProto.FLOAT, [None, 2])
                      for i in inputs],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [None, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v)
                                                   for d, v in opsets.items()])
    model.ir_version = 7
    return model


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


X = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)


def test_a_graph_at_an_older_opset_is_converted_and_the_merge_computes_what_both_did():
    # Softmax's meaning changed at 13 (axis): the converter must rewrite, not renumber
    head = _graph([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"": 11})
    net = _graph([helper.make_node("Relu", ["h"], ["y"])], {"": 20}, inputs=("h",))
    with pytest.raises(ValueError, match="different operator set ids"):
        onnx.compose.merge_models(head, net, io_map=[("y", "h")])
    head2, net2 = export.same_opsets([head, net])
    assert [(o.domain, o.version) for o in head2.opset_import] == [("", 20)]
    assert head2.ir_version == net2.ir_version == max(head.ir_version, net.ir_version)
    merged = onnx.compose.merge_models(head2, net2, io_map=[("y", "h")], prefix2="n_")
    expected = np.exp(X) / np.exp(X).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_run(merged, X), expected, rtol=1e-6)
    assert [(o.domain, o.version) for o in head.opset_import] == [("", 11)]  # copies changed


def test_a_graph_whose_operators_did_not_change_is_only_renumbered():
    relu = _graph([helper.make_node("Relu", ["x"], ["y"])], {"": 14})
    abs_ = _graph([helper.make_node("Abs", ["x"], ["y"])], {"": 19})
    moved, _ = export.same_opsets([relu, abs_])
    assert moved.graph == relu.graph and moved.opset_import[0].version == 19


def test_a_graph_with_a_domain_the_converter_cannot_read_is_met_at_its_version():
    """A feature graph holding com.microsoft's Tokenizer is never given to ONNX's version
    converter (which crashed the process on one); the plain graph is converted down to it."""
    tokenized = _graph([helper.make_node("Identity", ["x"], ["y"]),
                        helper.make_node("Tokenizer", ["s"], ["t"], domain="com.microsoft",
                                         mark=0, mincharnum=1, pad_value="#",
                                         separators=[" "])],
                       {"": 11, "com.microsoft": 1})
    network = _graph([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"": 13})
    head, net = export.same_opsets([tokenized, network])
    assert {o.domain: o.version for o in head.opset_import} == {"": 11, "com.microsoft": 1}
    assert [(o.domain, o.version) for o in net.opset_import] == [("", 11)]
    expected = np.exp(X) / np.exp(X).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_run(net, X), expected, rtol=1e-6)


def test_ml_operators_move_to_a_newer_version_of_their_domain_when_still_valid():
    scaler = helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", offset=[1.0, 2.0],
                              scale=[2.0, 0.5])
    old = _graph([scaler], {"": 17, "ai.onnx.ml": 1})
    newer = _graph([helper.make_node("Relu", ["x"], ["y"])], {"": 17, "ai.onnx.ml": 3})
    moved, _ = export.same_opsets([old, newer])
    assert {o.domain: o.version for o in moved.opset_import} == {"": 17, "ai.onnx.ml": 3}
    np.testing.assert_allclose(_run(moved, X), (X - [1.0, 2.0]) * [2.0, 0.5])


def test_no_common_version_is_one_error_naming_the_domain_and_why():
    # BitwiseNot exists from opset 18; the Tokenizer graph cannot be converted up to it
    tokenized = _graph([helper.make_node("Softmax", ["x"], ["y"], axis=1),
                        helper.make_node("Tokenizer", ["s"], ["t"], domain="com.microsoft",
                                         mark=0, mincharnum=1, pad_value="#",
                                         separators=[" "])],
                       {"": 11, "com.microsoft": 1})
    newer = _graph([helper.make_node("BitwiseNot", ["x"], ["y"])], {"": 18})
    with pytest.raises(ExportError, match=r"The graphs to combine import the operator set "
                       r"'ai\.onnx' at versions \[11, 18\] and none can be brought to one version: "
                       r"Softmax changed between versions 11 and 18 of 'ai\.onnx' in a graph using "
                       r"\['com\.microsoft'\]; ONNX's version converter cannot bring BitwiseNot"):
        export.same_opsets([tokenized, newer])
