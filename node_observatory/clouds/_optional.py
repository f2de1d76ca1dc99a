"""The optional ML packages (extra ``ml``), imported only when a command needs them.

TensorFlow takes seconds and a gigabyte to import, so nothing imports it at module level; LiteRT
inference (``ai-edge-litert``) never imports it at all.
"""
from __future__ import annotations

import importlib
import os

__all__ = ["MissingExtra", "keras", "tensorflow", "tflite_interpreter"]

HINT = "install the 'ml' extra: pip install 'obsy[ml]'"


class MissingExtra(ImportError):
    """An optional package is missing; the message names it and the extra that brings it."""


def tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # its C++ start-up chatter is not for our users
    try:
        return importlib.import_module("tensorflow")
    except ImportError as exc:
        raise MissingExtra(f"this needs TensorFlow (tensorflow-cpu), which is not installed ({exc}); "
                           f"{HINT}") from None


def keras():
    return tensorflow().keras


def tflite_interpreter():
    """The LiteRT ``Interpreter`` class: ai-edge-litert's, else the copy inside TensorFlow."""
    try:
        return importlib.import_module("ai_edge_litert.interpreter").Interpreter
    except ImportError:
        pass
    try:
        return tensorflow().lite.Interpreter
    except MissingExtra:
        raise MissingExtra("running a .tflite model needs ai-edge-litert (or TensorFlow), and neither "
                           f"is installed; {HINT}") from None
