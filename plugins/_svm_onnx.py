"""Support vector machines as ONNX graphs that compute in float64, as libsvm does.

skl2onnx converts an SVM to ``ai.onnx.ml``'s SVMClassifier/SVMRegressor, whose coefficients,
support vectors and sums are float32. A model's output is a sum over its support vectors of
dual coefficients times kernel values; with a large ``C`` those terms reach the thousands and
cancel, and float32 loses what is left: an SVR with a linear kernel and ``C=1000`` on
scikit-learn's diabetes table was off by 0.03 % of its largest prediction, a calibrated SVC on
the breast-cancer table by 0.0005 in probability, both beyond the export's tolerance.

These converters write the kernel, the dual sum, the one-vs-one votes (multiclass) and the
sigmoid calibration with plain ONNX operators on float64 tensors; only the features arrive, and
the output leaves, as float32. Imported only by the export stage (``register``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

from automl_guide_plugins._tabular_onnx import Nodes

_DONE: set[type] = set()


def register(classifier: type, regressor: type) -> None:
    """Register the converters once per process."""
    table = [(classifier, calculate_linear_classifier_output_shapes, _convert_classifier,
              {"zipmap": [True, False, "columns"], "nocl": [True, False]}),
             (regressor, _shape_regressor, _convert_regressor, None)]
    for cls, shape, convert, options in table:
        if cls not in _DONE:
            update_registered_converter(cls, f"AutomlGuide{cls.__name__}", shape, convert,
                                        options=options)
            _DONE.add(cls)


def _shape_regressor(operator: Any) -> None:
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, 1])


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    svr = operator.raw_operator
    n = Nodes(scope, container)
    kernel = _kernel(n, svr, n.op("Cast", [operator.inputs[0].full_name], to=TensorProto.DOUBLE))
    value = n.op("Add", [n.op("MatMul", [kernel, n.const(svr.dual_coef_.T)]),
                         n.const(svr.intercept_)])
    n.op("Cast", [value], operator.outputs[0].full_name, to=TensorProto.FLOAT)


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    """``CalibratedClassifierCV(SVC, method="sigmoid", ensemble=False)``: the SVC's decision
    function, each class's sigmoid, then the probabilities scikit-learn's calibration makes."""
    model = operator.raw_operator
    if len(model.calibrated_classifiers_) != 1 or model.method != "sigmoid":
        raise ValueError("the float64 SVC graph takes one sigmoid calibration "
                         "(CalibratedClassifierCV(method='sigmoid', ensemble=False))")
    calibrated = model.calibrated_classifiers_[0]
    svc, n = calibrated.estimator, Nodes(scope, container)
    x = n.op("Cast", [operator.inputs[0].full_name], to=TensorProto.DOUBLE)
    decision = _decision(n, svc, _kernel(n, svc, x))
    slopes = np.array([[c.a_ for c in calibrated.calibrators]])
    offsets = np.array([[c.b_ for c in calibrated.calibrators]])
    logits = n.op("Add", [n.op("Mul", [decision, n.const(slopes)]), n.const(offsets)])
    calibrated_p = n.op("Div", [n.const(1.0), n.op("Add", [n.const(1.0), n.op("Exp", [logits])])])
    n_classes = len(svc.classes_)
    if n_classes == 2:
        proba = n.op("Concat", [n.op("Sub", [n.const(1.0), calibrated_p]), calibrated_p], axis=1)
    else:  # normalized; uniform where every class's sigmoid is 0
        total = n.op("ReduceSum", [calibrated_p, n.const([1], TensorProto.INT64)], keepdims=1)
        proba = n.op("Where", [n.op("Equal", [total, n.const(0.0)]), n.const(1.0 / n_classes),
                               n.op("Div", [calibrated_p, total])])
    n.op("Cast", [proba], operator.outputs[1].full_name, to=TensorProto.FLOAT)
    best = n.op("ArgMax", [proba], axis=1, keepdims=0)
    labels = np.asarray(model.classes_, dtype=np.int64)
    n.op("Gather", [n.const(labels, TensorProto.INT64), best], operator.outputs[0].full_name,
         axis=0)


def _kernel(n: Nodes, svm: Any, x: str) -> str:
    """The kernel between each row of ``x`` and each support vector, ``[N, n_SV]``; the RBF
    distance as libsvm writes it, ``|x|^2 + |sv|^2 - 2 x.sv``."""
    vectors = np.asarray(svm.support_vectors_, dtype=np.float64)
    dot = n.op("MatMul", [x, n.const(vectors.T)])
    gamma, coef0 = float(svm._gamma), float(svm.coef0)
    if svm.kernel == "linear":
        return dot
    if svm.kernel == "rbf":
        squares = n.op("ReduceSum", [n.op("Mul", [x, x]), n.const([1], TensorProto.INT64)],
                       keepdims=1)
        distance = n.op("Sub", [n.op("Add", [squares, n.const((vectors ** 2).sum(axis=1)[None])]),
                                n.op("Mul", [dot, n.const(2.0)])])
        return n.op("Exp", [n.op("Mul", [distance, n.const(-gamma)])])
    scaled = n.lin(dot, gamma, coef0)
    if svm.kernel == "poly":
        return n.op("Pow", [scaled, n.const(float(svm.degree))])
    if svm.kernel == "sigmoid":
        return n.op("Tanh", [scaled])
    raise ValueError(f"no float64 graph for the kernel {svm.kernel!r}")


def _decision(n: Nodes, svc: Any, kernel: str) -> str:
    """``svc.decision_function``: ``[N, 1]`` for two classes, else ``[N, n_classes]`` from the
    one-vs-one decisions, as scikit-learn's ``_ovr_decision_function`` turns them into votes
    plus confidences."""
    n_classes = len(svc.classes_)
    if n_classes == 2:
        return n.op("Add", [n.op("MatMul", [kernel, n.const(svc.dual_coef_.T)]),
                            n.const(svc.intercept_)])
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
    weights = np.zeros((len(svc.support_vectors_), len(pairs)))
    first, second = np.zeros((len(pairs), n_classes)), np.zeros((len(pairs), n_classes))
    for k, (i, j) in enumerate(pairs):  # libsvm's layout of the dual coefficients
        weights[starts[i]:starts[i + 1], k] = svc.dual_coef_[j - 1, starts[i]:starts[i + 1]]
        weights[starts[j]:starts[j + 1], k] = svc.dual_coef_[i, starts[j]:starts[j + 1]]
        first[k, i], second[k, j] = 1.0, 1.0
    one_vs_one = n.op("Add", [n.op("MatMul", [kernel, n.const(weights)]),
                              n.const(svc.intercept_)])
    against = n.op("Cast", [n.op("Less", [one_vs_one, n.const(0.0)])], to=TensorProto.DOUBLE)
    votes = n.op("Add", [n.op("MatMul", [n.op("Sub", [n.const(1.0), against]), n.const(first)]),
                         n.op("MatMul", [against, n.const(second)])])
    confidence = n.op("MatMul", [one_vs_one, n.const(first - second)])
    shrunk = n.op("Div", [confidence, n.op("Mul", [n.op("Add", [n.op("Abs", [confidence]),
                                                                 n.const(1.0)]),
                                                    n.const(3.0)])])
    return n.op("Add", [votes, shrunk])
