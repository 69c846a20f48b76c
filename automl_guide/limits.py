"""Defaults shared by a light entry point and the module behind it: the CLI's help must not
import FastAPI just to show the serving limits."""

SERVE_MAX_BODY_BYTES = 1_000_000  # larger request bodies get a 413 before parsing
SERVE_MAX_ROWS = 10_000  # rows per /predict request
