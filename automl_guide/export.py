"""Export stage: the refitted pipeline as ONE ONNX graph (:mod:`automl_guide.parity` checks it
against the native model).

The graph takes one input per raw column (named by ``ColumnInfo.onnx_name``; float, int64 or
string, shape ``[N, 1]``) and returns ``label`` and ``probabilities`` (classification, no ZipMap)
or ``value`` (regression). ``label`` is the arg-max of ``probabilities`` mapped to the class labels,
the same rule as :class:`automl_guide.pipeline.LabelledClassifier`. This is the only module that
imports onnx and skl2onnx.
"""
from __future__ import annotations

import re
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.pipeline import Pipeline

from .columns import ColumnInfo
from .errors import ExportError
from .parity import onnx_label_values

OPSET = {"": 17, "ai.onnx.ml": 3}
_RAW = "automl_guide_raw_output"


def to_onnx(pipeline: Pipeline, columns: Sequence[ColumnInfo], task: str,
            classes: Sequence[Any], plugin_specs: Iterable[Any],
            model_spec: Any = None, opset: int = OPSET[""]) -> onnx.ModelProto:
    """Convert a fitted native pipeline (see :func:`automl_guide.pipeline.build_pipeline`).

    ``model_spec`` is the exported family's :class:`~automl_guide.ModelSpec`; when it has an
    ``onnx_graph`` (a network skl2onnx cannot convert) that graph is composed after the feature
    graph, else skl2onnx converts features and estimator together. ``opset`` is the default
    domain's version skl2onnx may use (it writes the lowest its converters need, up to it)."""
    for spec in plugin_specs:
        if getattr(spec, "register_onnx", None):
            spec.register_onnx()
    model = pipeline.named_steps["model"]
    estimator = model if task == "regression" else model.estimator_
    inputs = _initial_types(columns)
    graph_fn = getattr(model_spec, "onnx_graph", None)
    try:
        with warnings.catch_warnings():  # converters read attributes scikit-learn deprecates
            warnings.simplefilter("ignore", FutureWarning)
            if graph_fn is None:
                graph, output = _convert_whole(pipeline.named_steps["features"], estimator,
                                               inputs, task, opset)
            else:
                graph, output = _compose(pipeline.named_steps["features"], graph_fn(estimator),
                                         inputs, opset)
    except ExportError:
        raise
    except Exception as exc:
        from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

        if isinstance(exc, (MissingConverter, MissingShapeCalculator)):  # 12 lines of advice
            named = re.search(r"<class '([^']+)'>", str(exc))
            what = named.group(1).rsplit(".", 1)[-1] if named else type(estimator).__name__
            family = getattr(model_spec, "name", "") or "?"
            raise ExportError(
                f"Could not convert {what} to ONNX: skl2onnx has no converter for it. The plugin "
                f"that builds it (model plugin {family!r}, or a feature plugin) must register one "
                "in its register_onnx (skl2onnx's update_registered_converter), or give an "
                "onnx_graph; see docs/plugins.md.") from exc
        raise ExportError(f"Could not convert {type(estimator).__name__} to ONNX: "
                          f"{type(exc).__name__}: {exc}") from exc
    names = [i.name for i in graph.graph.input]
    if names != [c.onnx_name for c in columns]:
        raise ExportError(f"ONNX inputs {names} differ from the planned names "
                          f"{[c.onnx_name for c in columns]}.")
    try:
        if task == "regression":
            _finish_regression(graph, output)
        else:
            seen = np.asarray(estimator.classes_, dtype=np.int64)
            _finish_classification(graph, output, onnx_label_values(classes), seen)
        _prune(graph)
        graph.producer_name = "automl-guide"
        onnx.checker.check_model(graph)
    except Exception as exc:
        raise ExportError(f"The ONNX graph of {type(estimator).__name__} is not valid: "
                          f"{type(exc).__name__}: {exc}") from exc
    return graph


def combine(graphs: Sequence[onnx.ModelProto], weights: Sequence[float], task: str,
            classes: Sequence[Any]) -> onnx.ModelProto:
    """One graph from several exported models with the same inputs: the weighted sum of their
    ``probabilities`` (``label`` its arg-max) or of their ``value``."""
    graphs = same_opsets(graphs)
    opsets = _opsets(graphs[0])
    for graph in graphs[1:]:
        opsets.update(_opsets(graph))
    nodes, inits, outputs = [], [], []
    wanted = "value" if task == "regression" else "probabilities"
    for i, graph in enumerate(graphs):
        member = onnx.compose.add_prefix(graph, f"automl_guide_m{i}_", rename_inputs=False)
        nodes.extend(member.graph.node)
        inits.extend(member.graph.initializer)
        weight = numpy_helper.from_array(np.array(weights[i], dtype=np.float32),
                                         f"automl_guide_w{i}")
        inits.append(weight)
        nodes.append(helper.make_node("Mul", [f"automl_guide_m{i}_{wanted}", weight.name],
                                      [f"automl_guide_weighted{i}"]))
        outputs.append(f"automl_guide_weighted{i}")
    nodes.append(helper.make_node("Sum", outputs, [wanted if task == "regression" else _RAW]))
    graph = helper.make_graph(nodes, "automl_guide_ensemble", list(graphs[0].graph.input), [],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v)
                                                     for d, v in opsets.items()])
    model.ir_version = graphs[0].ir_version
    if task == "regression":
        model.graph.output.append(helper.make_tensor_value_info("value", TensorProto.FLOAT,
                                                                [None]))
    else:
        labels = onnx_label_values(classes)
        _take_output(model, _RAW)  # no graph outputs yet: only names the raw sum
        _finish_classification(model, _RAW, labels, np.arange(len(labels)))
    _share_repeats(model)
    _prune(model)
    model.producer_name = "automl-guide"
    onnx.checker.check_model(model)
    return model


def _share_repeats(model: onnx.ModelProto) -> None:
    """Compute each repeated piece of a graph once: constants with the same type, shape and
    values become one, then (in graph order) a node with the same operator, attributes and
    inputs as an earlier one is dropped and its outputs read from that one. Members of an
    ensemble fitted on the same rows with the same features then share their preprocessing.
    Exact: the graph computes what it did, with fewer nodes (random operators, nodes with
    subgraphs, and nodes whose outputs a graph output or a subgraph names are left as they
    are)."""
    graph = model.graph
    alias: dict[str, str] = {}
    constants: dict[tuple, str] = {}
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        key = (init.data_type, tuple(init.dims), values.dtype.str,
               values.tobytes() if values.dtype != object else tuple(values.ravel().tolist()))
        alias[init.name] = constants.setdefault(key, init.name)
    # tensors read by name from elsewhere: the graph's outputs, and what subgraphs read
    named = {o.name for o in graph.output}.union(*(_subgraph_reads(n) for n in graph.node))
    seen: dict[tuple, Any] = {}
    kept = []
    for node in graph.node:
        node.input[:] = [alias.get(name, name) for name in node.input]
        if (node.op_type.startswith("Random") or node.op_type in ("Bernoulli", "Multinomial")
                or _subgraphs(node) or named.intersection(node.output)):
            kept.append(node)
            continue
        key = (node.domain, node.op_type, tuple(node.input), tuple(map(bool, node.output)),
               tuple(sorted(a.SerializeToString(deterministic=True) for a in node.attribute)))
        earlier = seen.setdefault(key, node)
        if earlier is node:
            kept.append(node)
        else:
            alias.update(zip(node.output, earlier.output))
    del graph.node[:]
    graph.node.extend(kept)


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The bodies of an If, Loop or Scan node (none for other operators)."""
    return [g for a in node.attribute
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs)]


def _subgraph_reads(node: onnx.NodeProto) -> set[str]:
    """The tensor names read inside a node's subgraphs, at any depth: those of the outer graph
    among them are inputs of the node too, though not in its ``input`` list."""
    return {name for body in _subgraphs(node) for inner in body.node
            for name in (*inner.input, *_subgraph_reads(inner))}


def _initial_types(columns: Sequence[ColumnInfo]) -> list:
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    tensor_types = {"float": FloatTensorType, "int64": Int64TensorType, "string": StringTensorType}
    return [(c.onnx_name, tensor_types[c.onnx_type]([None, 1])) for c in columns]


def _convert_whole(features: Any, estimator: Any, inputs: list, task: str, opset: int
                   ) -> tuple[onnx.ModelProto, str]:
    """skl2onnx over ``Pipeline(features, estimator)``; the name of the raw model output."""
    from skl2onnx import convert_sklearn

    inner = Pipeline([("features", features), ("model", estimator)])
    options = {} if task == "regression" else {id(estimator): {"zipmap": False}}
    graph = convert_sklearn(inner, initial_types=inputs, target_opset={**OPSET, "": opset},
                            options=options)
    return graph, graph.graph.output[0].name if task == "regression" else "probabilities"


def _compose(features: Any, network: onnx.ModelProto, inputs: list, opset: int
             ) -> tuple[onnx.ModelProto, str]:
    """The feature graph (skl2onnx) feeding the network graph: one graph, whose output is the
    network's. skl2onnx writes the lowest opset its converters need, whatever the target, so the
    two graphs are brought to one opset per domain (:func:`same_opsets`) before they merge."""
    from skl2onnx import convert_sklearn

    if len(network.graph.input) != 1 or len(network.graph.output) != 1:
        raise ExportError("a model plugin's onnx_graph must have exactly one input and one "
                          f"output; it has {len(network.graph.input)} and "
                          f"{len(network.graph.output)}")
    target = {**OPSET, "": max(opset, _opsets(network).get("", opset))}
    head = convert_sklearn(features, initial_types=inputs, target_opset=target)
    head, network = same_opsets([head, network])
    out = network.graph.output[0].name
    merged = onnx.compose.merge_models(
        head, network, io_map=[(head.graph.output[0].name, network.graph.input[0].name)],
        prefix2="automl_guide_net_")
    return merged, f"automl_guide_net_{out}"


# Domains whose operators ONNX's version converter knows; it is not run on a graph with others
# (it crashed the process on a text feature graph holding com.microsoft's Tokenizer).
_CONVERTIBLE_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


def same_opsets(graphs: Sequence[onnx.ModelProto]) -> list[onnx.ModelProto]:
    """Copies of ``graphs`` that import each domain at one version, and one IR version, so that
    ``onnx.compose`` can merge them.

    Per domain, the highest version any graph imports is tried first, then the lower ones. A
    graph moves to another version of a domain as it is when none of its operators of that
    domain changed between the two versions (only the opset number changes). Otherwise, in the
    default domain, ONNX's version converter rewrites it (only on graphs of ONNX's own domains);
    in another domain (``ai.onnx.ml``'s operators change by gaining attributes), it moves when
    ONNX's checker accepts its nodes at the new version. Parity with the native model is
    checked on the whole graph afterwards, as for every export.
    :raises ExportError: no version of some domain suits every graph.
    """
    graphs = [_copy(g) for g in graphs]
    domains = sorted({d for g in graphs for d in _opsets(g)})
    for domain in domains:
        versions = sorted({_opsets(g)[domain] for g in graphs if domain in _opsets(g)},
                          reverse=True)
        if len(versions) == 1:
            continue
        reasons = []
        for version in versions:
            try:
                graphs = [_at_version(g, domain, version) for g in graphs]
                break
            except ExportError as exc:
                reasons.append(str(exc))
        else:
            raise ExportError(f"The graphs to combine import the operator set "
                              f"{domain or 'ai.onnx'!r} at versions {sorted(versions)} and none "
                              f"can be brought to one version: {'; '.join(reasons)}")
    ir_version = max(g.ir_version for g in graphs)
    for g in graphs:
        g.ir_version = ir_version
    return graphs


def default_opset(graph: onnx.ModelProto) -> int:
    """The version of the default domain (``ai.onnx``) that ``graph`` imports."""
    return _opsets(graph).get("", 0)


def _opsets(graph: onnx.ModelProto) -> dict[str, int]:
    return {_domain(o.domain): o.version for o in graph.opset_import}


def _domain(name: str) -> str:
    """A domain's name, with ``"ai.onnx"`` spelled as the default domain ``""``."""
    return "" if name == "ai.onnx" else name


def _copy(graph: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    return copy


def _at_version(graph: onnx.ModelProto, domain: str, version: int) -> onnx.ModelProto:
    """``graph`` importing ``domain`` at ``version`` and computing what it did."""
    current = _opsets(graph).get(domain)
    if current is None or current == version:
        return graph
    changed = sorted({node.op_type for node in _all_nodes(graph.graph)
                      if _domain(node.domain) == domain
                      and not _same_schema(node.op_type, domain, current, version)})
    if changed and domain == "":
        return _converted(graph, version, current, changed)
    moved = _copy(graph)
    for opset in moved.opset_import:
        if _domain(opset.domain) == domain:
            opset.version = version
    if changed:
        try:
            onnx.checker.check_model(moved)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"{', '.join(changed)} of {domain!r} version {current} is not "
                              f"valid at version {version}: {exc}") from exc
    return moved


def _converted(graph: onnx.ModelProto, version: int, current: int, changed: Sequence[str]
               ) -> onnx.ModelProto:
    """ONNX's version converter over ``graph``, on graphs of ONNX's own domains only."""
    others = set(_opsets(graph)) - _CONVERTIBLE_DOMAINS
    if others:
        raise ExportError(f"{', '.join(changed)} changed between versions {current} and "
                          f"{version} of 'ai.onnx' in a graph using {sorted(others)}")
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(graph, version)
        onnx.checker.check_model(converted)
    except Exception as exc:  # an operator the converter has no adapter for
        raise ExportError(f"ONNX's version converter cannot bring {', '.join(changed)} from "
                          f"version {current} to {version}: {type(exc).__name__}: {exc}") from exc
    return converted


def _same_schema(op_type: str, domain: str, old: int, new: int) -> bool:
    """Whether ``op_type`` means the same at both versions of ``domain`` (one schema)."""
    from onnx import defs

    if not defs.has(op_type, domain):
        return False
    try:
        return (defs.get_schema(op_type, old, domain).since_version
                == defs.get_schema(op_type, new, domain).since_version)
    except defs.SchemaError:  # not defined at one of the two versions
        return False


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The nodes of ``graph`` and of the bodies of its If, Loop and Scan nodes."""
    return [n for node in graph.node for n in (node, *(m for body in _subgraphs(node)
                                                        for m in _all_nodes(body)))]


def _take_output(graph: onnx.ModelProto, name: str) -> None:
    """Rename the graph output ``name`` to an internal tensor, the converter's other outputs out
    of the way of ours, and drop all graph outputs."""
    renames = {o.name: f"automl_guide_unused_{o.name}" for o in graph.graph.output}
    renames[name] = _RAW
    for node in graph.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    del graph.graph.output[:]


def _finish_regression(graph: onnx.ModelProto, output: str) -> None:
    _take_output(graph, output)
    shape = numpy_helper.from_array(np.array([-1], dtype=np.int64), "automl_guide_flat")
    graph.graph.initializer.append(shape)
    graph.graph.node.append(helper.make_node("Reshape", [_RAW, shape.name], ["value"]))
    graph.graph.output.append(helper.make_tensor_value_info("value", TensorProto.FLOAT, [None]))


def _finish_classification(graph: onnx.ModelProto, output: str, labels: np.ndarray,
                           seen: np.ndarray) -> None:
    _take_output(graph, output)
    nodes, inits = graph.graph.node, graph.graph.initializer
    probs = _RAW
    if len(seen) < len(labels):  # classes absent from the training rows get probability 0
        expand = np.zeros((len(seen), len(labels)), dtype=np.float32)
        expand[np.arange(len(seen)), seen] = 1.0
        inits.append(numpy_helper.from_array(expand, "automl_guide_expand"))
        nodes.append(helper.make_node("MatMul", [_RAW, "automl_guide_expand"], ["automl_guide_p"]))
        probs = "automl_guide_p"
    nodes.append(helper.make_node("Identity", [probs], ["probabilities"]))
    nodes.append(helper.make_node("ArgMax", ["probabilities"], ["automl_guide_argmax"], axis=1,
                                  keepdims=0))
    label_type = TensorProto.INT64 if labels.dtype == np.int64 else TensorProto.STRING
    if label_type == TensorProto.STRING:
        table = helper.make_tensor("automl_guide_classes", TensorProto.STRING, [len(labels)],
                                   [s.encode("utf-8") for s in labels])
    else:
        table = numpy_helper.from_array(labels, "automl_guide_classes")
    inits.append(table)
    nodes.append(helper.make_node("Gather", ["automl_guide_classes", "automl_guide_argmax"],
                                  ["label"], axis=0))
    graph.graph.output.extend([
        helper.make_tensor_value_info("label", label_type, [None]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)])])


def _prune(graph: onnx.ModelProto) -> None:
    """Drop nodes and initializers that no output depends on (e.g. the converter's own label)."""
    needed = {o.name for o in graph.graph.output}
    kept = []
    for node in reversed(graph.graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in (*node.input, *_subgraph_reads(node)) if i)
    kept.reverse()
    del graph.graph.node[:]
    graph.graph.node.extend(kept)
    inits = [t for t in graph.graph.initializer if t.name in needed]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(inits)


def with_metadata(graph: onnx.ModelProto, card_json: str, schema_json: str | None = None) -> bytes:
    """The serialized graph with the model card (and the data schema) in its metadata."""
    del graph.metadata_props[:]
    graph.metadata_props.add(key="model_card", value=card_json)
    if schema_json is not None:
        graph.metadata_props.add(key="data_schema", value=schema_json)
    graph.doc_string = "automl-guide model; see metadata 'model_card'"
    return graph.SerializeToString()
