"""automl-guide's built-in plugins, installed as ``automl_guide_plugins``.

They are registered through the ``automl_guide`` entry-point group in automl-guide's own
``pyproject.toml``, the same path a third-party plugin takes, and import only automl-guide's public
API.
"""
