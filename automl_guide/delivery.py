"""The export and parity stages as the engine calls them: the chosen pipeline, or the ensemble
led by it, converted to one ONNX graph and checked against the native model on held-out rows.

:mod:`automl_guide.export` does the converting (the only module that imports onnx); this module
decides what is converted, keeps each conversion for the export loop's next pass, and says
which family failed (:class:`NotExported`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from .data import Dataset
from .errors import ExportError
from .progress import Progress
from .select import EnsemblePlan
from .specs import ModelSpec


class NotExported(Exception):
    """The chosen trial's model did not convert to ONNX or failed parity (``error``): the run
    exports the best trial of another family instead; or, with ``member``, that ensemble
    member's did, and the run chooses the ensemble again without that family."""

    def __init__(self, error: ExportError, member: str | None = None):
        super().__init__(str(error))
        self.error, self.member = error, member


@dataclass(frozen=True)
class Exported:
    """What the export gave: the graph, its parity, the native model it stands for, and, for
    an ensemble, the best single model's graph and the ensemble's part of the card; for a
    single model, why not an ensemble (when the ensemble chosen failed here)."""

    graph: Any
    parity: Any
    native: Any
    single: Any = None
    ensemble_card: Mapping[str, Any] | None = None
    no_ensemble: str = ""


class Converter:
    """Fitted pipelines to checked graphs, each converted once: after a failed export, the
    members that did convert are not converted again."""

    def __init__(self, dataset: Dataset, specs: Mapping[str, ModelSpec],
                 parity_frame: pd.DataFrame):
        self.dataset, self.specs, self.parity_frame = dataset, specs, parity_frame
        self._done: dict[int, tuple[Any, Any, Any]] = {}  # id -> (pipeline, graph, parity)

    def graph(self, native: Any, family: str, plugin_specs: Sequence[Any]) -> tuple[Any, Any]:
        """``native``'s graph and its parity (:class:`ExportError` when either fails), with the
        ONNX converters of ``plugin_specs`` registered."""
        from . import export  # onnx loads here, and only here

        kept = self._done.get(id(native))
        if kept is not None and kept[0] is native:
            return kept[1], kept[2]
        d = self.dataset
        graph = export.to_onnx(native, d.columns, d.task, d.classes, plugin_specs,
                               self.specs[family])
        parity = self.check(graph, native)
        self._done[id(native)] = (native, graph, parity)
        return graph, parity

    def check(self, graph: Any, native: Any) -> Any:
        from .parity import check_parity

        d = self.dataset
        return check_parity(graph.SerializeToString(), native, self.parity_frame, d.columns,
                            d.task, d.classes)


def combined(graphs: Sequence[Any], members: Sequence[tuple[Any, Any]],
             weights: Sequence[float], dataset: Dataset, plugin_specs: Sequence[Any],
             specs: Mapping[str, ModelSpec]) -> Any:
    """The members' graphs as one graph. When they cannot be brought to one opset as they are
    (skl2onnx wrote one at 16 and a network came at 20, and a text feature graph's
    ``com.microsoft`` operators keep ONNX's version converter away), the members below the
    newest default-domain opset are converted again at it; the ensemble's parity is checked
    after, as always."""
    from . import export

    d = dataset
    try:
        return export.combine(graphs, weights, d.task, d.classes)
    except ExportError:
        newest = max(export.default_opset(g) for g in graphs)
        again = [graph if export.default_opset(graph) == newest else export.to_onnx(
                     pipeline, d.columns, d.task, d.classes, plugin_specs,
                     specs[member.model], opset=newest)
                 for graph, (member, pipeline) in zip(graphs, members)]
        return export.combine(again, weights, d.task, d.classes)


def export_choice(converter: Converter, plugin_specs: Sequence[Any], pipeline: Any,
                  family: str, members: Sequence[tuple[Any, Any]] | None,
                  plan: EnsemblePlan | None, progress: Progress) -> Exported:
    """The chosen ``pipeline`` of ``family`` as a checked graph; with ``members`` (refitted, of
    the ensemble ``plan``), the ensemble as one graph when it converts and passes parity, else
    the single best with a note. ``plugin_specs`` are the plugins the export uses (their ONNX
    converters are registered). Raises :class:`NotExported` naming what failed."""
    try:
        graph, parity = converter.graph(pipeline, family, plugin_specs)
    except ExportError as exc:
        raise NotExported(exc) from exc
    if not members:
        return Exported(graph, parity, pipeline)
    graphs = []
    for member, fitted in members:
        try:
            graphs.append(converter.graph(fitted, member.model, plugin_specs)[0])  # best: kept
        except Exception as exc:  # noqa: BLE001 - a plugin's converter may raise anything
            error = exc if isinstance(exc, ExportError) else ExportError(
                f"{type(exc).__name__}: {exc}")
            raise NotExported(error, member=member.model) from exc
    from .ensemble import Ensemble

    d = converter.dataset
    try:
        native = Ensemble([p for _, p in members], plan.weights, d.task, d.classes)
        graph_of_all = combined(graphs, members, plan.weights, d, plugin_specs,
                                converter.specs)
        ensemble_parity = converter.check(graph_of_all, native)
    except Exception as exc:  # the single best model still counts
        why = f"the ensemble chosen did not export ({type(exc).__name__}: {exc})"
        progress.say(f"Ensemble not exported ({type(exc).__name__}: {exc}); exporting "
                     f"the single best model.")
        return Exported(graph, parity, pipeline, no_ensemble=why)
    card = {"members": [{"model": m.model, "config": dict(m.config), "weight": float(w)}
                        for (m, _), w in zip(members, plan.weights)],
            "validation_score": plan.score, "best_single_validation_score": plan.single_score,
            "single_best_file": "single_best.onnx"}
    return Exported(graph_of_all, ensemble_parity, native, graph, card)
