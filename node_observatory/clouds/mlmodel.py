"""Load a trained cloud model (ours or Teachable Machine / mlCloudDetect) and run it on a frame.

A model is a file plus ``labels.txt`` in its folder (lines ``0 Clear`` as Teachable Machine writes
them, or bare names). ``.tflite`` runs on LiteRT (ai-edge-litert, without TensorFlow) or on
TensorFlow's copy of it; ``.keras`` and ``.h5`` (Teachable Machine's ``keras_model.h5``) need
TensorFlow. Input size and colour planes come from the model itself; pixels go in as -1..1.
"""
from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import _optional
from .classical import CloudResult
from .imageio import load_colour, load_image
from .mlinput import model_input

__all__ = ["ModelError", "MlModel", "MlDetector", "load_model", "read_labels", "cloud_label"]

# Searched in this order in a model folder: our export, then Teachable Machine's.
MODEL_NAMES = ("model.tflite", "keras_model.h5", "model.keras")
MODEL_SUFFIXES = (".tflite", ".keras", ".h5")
# Mid-points of the classical detector's label bands: a model's probabilities become a fraction.
NOMINAL_FRACTION = {"clear": 0.075, "partly": 0.325, "cloudy": 0.675, "overcast": 0.925}
ALIASES = {"partly cloudy": "partly", "partly_cloudy": "partly", "partial": "partly",
           "mostly cloudy": "cloudy"}


class ModelError(ValueError):
    """A model file or labels file that cannot be used; the message names the file."""


@dataclass
class MlModel:
    path: Path
    labels: list[str]
    height: int
    width: int
    channels: int
    backend: str                                   # "litert", "tensorflow-lite" or "keras"
    _run: Callable[[np.ndarray], np.ndarray]       # one H x W x C input -> class probabilities

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._run(x), dtype=np.float64).reshape(-1)


def read_labels(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the labels ({exc})") from None
    labels = [re.sub(r"^\d+\s+", "", line.strip()) for line in lines if line.strip()]
    if not labels:
        raise ModelError(f"{path}: no labels in the file")
    return labels


def cloud_label(name: str) -> str:
    """A model's class name as OBSY's label: lower case, common synonyms folded."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


def _find(path: Path) -> Path:
    if path.is_dir():
        for name in MODEL_NAMES:
            if (path / name).is_file():
                return path / name
        raise ModelError(f"{path}: no model in this folder (looked for {', '.join(MODEL_NAMES)})")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path}: not a model file (expected {', '.join(MODEL_SUFFIXES)})")
    return path


def load_model(path: str | Path) -> MlModel:
    """The model at ``path`` (a model file, or a folder holding one) with its labels."""
    file = _find(Path(path))
    labels = read_labels(file.parent / "labels.txt") if (file.parent / "labels.txt").is_file() else None
    if labels is None:
        raise ModelError(f"{file.parent / 'labels.txt'}: missing (one class name per line, in output order)")
    if file.suffix.lower() == ".tflite":
        model = _load_tflite(file, labels)
    else:
        model = _load_keras(file, labels)
    probe = model.predict(np.zeros((model.height, model.width, model.channels), np.float32))
    if probe.size != len(labels):
        raise ModelError(f"{file}: the model has {probe.size} outputs but labels.txt names {len(labels)} classes")
    return model


def _shape(file: Path, shape) -> tuple[int, int, int]:
    shape = tuple(int(v) if v is not None else -1 for v in shape)
    if len(shape) != 4 or shape[1] <= 0 or shape[2] <= 0 or shape[3] not in (1, 3):
        raise ModelError(f"{file}: the model's input {shape} is not one image (batch, height, width, 1 or 3)")
    return shape[1], shape[2], shape[3]


def _load_tflite(file: Path, labels: list[str]) -> MlModel:
    interpreter_class = _optional.tflite_interpreter()
    backend = "litert" if interpreter_class.__module__.startswith("ai_edge_litert") else "tensorflow-lite"
    try:
        # One thread: the node runs other work, and a small model gains nothing from more.
        interpreter = interpreter_class(model_path=str(file), num_threads=1)
        interpreter.allocate_tensors()
    except Exception as exc:  # LiteRT raises ValueError or RuntimeError depending on the damage
        raise ModelError(f"{file}: not a LiteRT model ({type(exc).__name__}: {exc})") from None
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    height, width, channels = _shape(file, inp["shape"])
    to_input = _quantizer(file, inp, "input")
    from_output = _dequantizer(file, out)

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(inp["index"], to_input(x[None]))
        interpreter.invoke()
        return from_output(interpreter.get_tensor(out["index"])[0])

    return MlModel(file, labels, height, width, channels, backend, run)


def _quantizer(file: Path, detail: dict, what: str):
    """float32 -1..1 pixels to what the model's input takes: float32 as they are, or int8/uint8
    through the tensor's scale and zero point (real = scale * (q - zero_point))."""
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return lambda x: x.astype(np.float32)
    scale, zero = detail.get("quantization", (0.0, 0))
    if dtype not in (np.int8, np.uint8) or not scale:
        raise ModelError(f"{file}: the model's {what} is {dtype.name} without a usable scale; "
                         "float32, or int8/uint8 with quantisation parameters, are supported")
    info = np.iinfo(dtype)
    return lambda x: np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantizer(file: Path, detail: dict):
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return lambda y: y.astype(np.float32)  # a copy: the interpreter reuses its buffer
    scale, zero = detail.get("quantization", (0.0, 0))
    if dtype not in (np.int8, np.uint8) or not scale:
        raise ModelError(f"{file}: the model's output is {dtype.name} without a usable scale")
    return lambda y: (y.astype(np.float32) - zero) * scale


def _keras2_layers(keras) -> dict:
    """Teachable Machine exported with Keras 2, which wrote ``groups: 1`` into every
    DepthwiseConv2D of its MobileNet; Keras 3 refuses that argument, so it is dropped here."""

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        def __init__(self, *args, groups=1, **kwargs):
            super().__init__(*args, **kwargs)

    return {"DepthwiseConv2D": DepthwiseConv2D}


def _load_keras(file: Path, labels: list[str]) -> MlModel:
    keras = _optional.keras()
    extra = _keras2_layers(keras) if file.suffix.lower() == ".h5" else None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            network = keras.models.load_model(file, compile=False, custom_objects=extra)
    except Exception as exc:  # h5py, zipfile and Keras's deserialiser each raise their own kinds
        raise ModelError(f"{file}: cannot load as a Keras model ({type(exc).__name__}: {exc})") from None
    height, width, channels = _shape(file, network.inputs[0].shape)

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(network(x[None].astype(np.float32), training=False))[0]

    return MlModel(file, labels, height, width, channels, "keras", run)


class MlDetector:
    """Classifies frames with a trained model; the result has the classical detector's fields."""

    name = "ml"

    def __init__(self, model: MlModel):
        self.model = model

    def classify_file(self, path: str | Path) -> CloudResult:
        m = self.model
        image = load_colour(path) if m.channels == 3 else load_image(path)
        return self.classify(model_input(image, m.height, m.width, m.channels))

    def classify(self, x: np.ndarray) -> CloudResult:
        probs = self.model.predict(x)
        names = [cloud_label(n) for n in self.model.labels]
        best = int(np.argmax(probs))
        known = [i for i, n in enumerate(names) if n in NOMINAL_FRACTION]
        fraction = None
        if names[best] in NOMINAL_FRACTION:
            weight = float(probs[known].sum())
            fraction = round(sum(float(probs[i]) * NOMINAL_FRACTION[names[i]] for i in known) / weight, 3)
        return CloudResult(names[best], fraction, None, [], detector="ml",
                           probabilities={n: round(float(p), 4) for n, p in zip(names, probs)})
