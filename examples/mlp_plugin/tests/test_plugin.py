"""This package's own tests: automl-guide's model-plugin contract, run with ``pytest tests``
once the package is installed (``pip install -e .``)."""
from automl_guide import load_registry
from automl_guide.testing import check_model_plugin


def test_the_plugin_is_discovered_through_its_entry_point():
    registered = load_registry().models["mlp"]
    assert registered.distribution == "automl-guide-mlp"


def test_every_task_keeps_the_contract():
    """Default and one sampled configuration per task and kind of table: built, cloned,
    fitted behind automl-guide's feature plugins, exported to one ONNX graph, checked for
    parity."""
    checks = check_model_plugin("mlp")
    assert {c.task for c in checks} == {"binary", "multiclass", "regression"}
    assert {c.table for c in checks} == {"mixed", "numeric", "integer", "boolean",
                                         "categorical", "datetime", "text"}
    assert all(c.max_abs_diff < 1e-4 for c in checks)
