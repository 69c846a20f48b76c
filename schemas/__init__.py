"""Schemas shipped with automl-guide (installed as ``automl_guide_schemas``).

``model_card.schema.json`` is the JSON Schema every ``model_card.json`` is checked against.
"""
