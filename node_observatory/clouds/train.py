"""``obsy clouds train``: a small CNN trained on labelled folders, exported for Keras and LiteRT.

Model choice: four strided 3x3 convolutions (16-64 filters, batch norm, ReLU), global average
pooling and a softmax, on a 128 x 128 luminance input (default). The classes differ in how much of
the disc is lit, blotchy or starless, not in fine detail, so a ~61k-parameter network is enough;
it trains from scratch in about a minute on one CPU core and runs in a few milliseconds under
LiteRT. A MobileNet would need pretrained weights (a download) to be worth its size.

Augmentation fits a fisheye: any flip and any rotation about the zenith (the camera's azimuth is
arbitrary) and an exposure gain. The validation split is stratified by class.
"""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np

from . import _optional
from .dataset import labelled_images
from .imageio import ImageReadError, load_image
from .metrics import score
from .mlinput import model_input

__all__ = ["DEFAULT_SIZE", "train", "split", "build_model", "load_dataset"]

DEFAULT_SIZE = 128
GAIN = (0.8, 1.25)              # exposure augmentation: sky brightness times this


def load_dataset(directory, size: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Inputs, class indices, class names and one error per unreadable file (which is skipped)."""
    items = labelled_images(directory)
    classes = sorted({label for _, label in items})
    xs, ys, errors = [], [], []
    for path, label in items:
        try:
            xs.append(model_input(load_image(path), size, size, 1))
        except ImageReadError as exc:
            errors.append(str(exc))
            continue
        ys.append(classes.index(label))
    if not xs:
        raise ValueError(f"{directory}: none of the images could be read")
    return np.stack(xs), np.array(ys, dtype=np.int64), classes, errors


def split(y: np.ndarray, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices for training and validation, ``validation`` of each class (at least one if it has two)."""
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for label in np.unique(y):
        members = rng.permutation(np.nonzero(y == label)[0])
        n_val = int(round(validation * len(members)))
        if validation > 0 and len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val_idx += members[:n_val].tolist()
        train_idx += members[n_val:].tolist()
    return np.array(sorted(train_idx), dtype=np.int64), np.array(sorted(val_idx), dtype=np.int64)


def build_model(keras, size: int, channels: int, n_classes: int):
    layers = keras.layers
    inputs = keras.Input((size, size, channels))
    x = inputs
    for filters in (16, 32, 64, 64):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        # Momentum 0.9, not 0.99: a small data set gives few steps, and slow running statistics
        # leave validation at one class for many epochs (without batch norm it barely learns).
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="obsy_clouds")


def _augmenter(tf, seed: int):
    keras = tf.keras
    geometric = keras.Sequential([
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomRotation(0.5, fill_mode="constant", fill_value=-1.0, seed=seed),
    ])

    def augment(x, y):
        x = geometric(x, training=True)
        gain = tf.random.uniform([tf.shape(x)[0], 1, 1, 1], *GAIN, seed=seed)
        return tf.clip_by_value((x + 1.0) * gain - 1.0, -1.0, 1.0), y

    return augment


def train(directory, out, *, size: int = DEFAULT_SIZE, epochs: int = 40, validation: float = 0.2,
          batch_size: int = 8, learning_rate: float = 1e-3, seed: int = 0, quantize: bool = False,
          log=None) -> dict:
    """Train, export ``model.keras``, ``model.tflite``, ``labels.txt`` and ``report.json`` to ``out``.

    ``quantize`` also writes ``model_int8.tflite``: integer weights, activations, input and output,
    calibrated on the training images (a quarter of the size, for small boards without a fast FPU).
    """
    started = time.monotonic()
    x, y, classes, errors = load_dataset(directory, size)
    if len(classes) < 2:
        raise ValueError(f"{directory}: need at least two class folders, found {classes}")
    train_idx, val_idx = split(y, validation, seed)
    tf = _optional.tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    network = build_model(keras, size, 1, len(classes))
    network.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
    data = (tf.data.Dataset.from_tensor_slices((x[train_idx], y[train_idx]))
            .shuffle(len(train_idx), seed=seed).batch(batch_size).map(_augmenter(tf, seed)).prefetch(1))
    counts = np.bincount(y[train_idx], minlength=len(classes))
    # Balanced class weights: real skies are clear far more often than overcast, or the reverse.
    weights = {i: float(len(train_idx) / (len(classes) * max(n, 1))) for i, n in enumerate(counts)}
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: _log_epoch(log, e, epochs, logs))]
    val_data = None
    if len(val_idx):
        val_data = (x[val_idx], y[val_idx])
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True))
    history = network.fit(data, epochs=epochs, validation_data=val_data, class_weight=weights,
                          callbacks=callbacks, shuffle=False, verbose=0)  # the dataset shuffles

    report = {"classes": classes, "input": {"height": size, "width": size, "channels": 1},
              "counts": {c: {"train": int(np.sum(y[train_idx] == i)), "validation": int(np.sum(y[val_idx] == i))}
                         for i, c in enumerate(classes)},
              "skipped": errors, "epochs_run": len(history.history["loss"]),
              "train_accuracy": round(float(history.history["accuracy"][-1]), 4), "validation": None}
    if len(val_idx):
        predicted = np.argmax(network.predict(x[val_idx], verbose=0), axis=1)
        report["validation"] = score([classes[i] for i in y[val_idx]], [classes[i] for i in predicted], classes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    network.save(out / "model.keras")
    (out / "model.tflite").write_bytes(to_tflite(tf, network))
    names = ["model.keras", "model.tflite", "labels.txt", "report.json"]
    if quantize:
        (out / "model_int8.tflite").write_bytes(to_tflite(tf, network, representative=x[train_idx]))
        names.insert(2, "model_int8.tflite")
    (out / "labels.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes)))
    report["seconds"] = round(time.monotonic() - started, 1)
    report["files"] = {name: str(out / name) for name in names}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def to_tflite(tf, network, representative: np.ndarray | None = None) -> bytes:
    """The network as a LiteRT flatbuffer; with ``representative`` inputs, fully int8-quantised."""
    converter = tf.lite.TFLiteConverter.from_keras_model(network)
    if representative is not None:
        samples = representative[:200].astype(np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([sample[None]] for sample in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the traced signature
        return converter.convert()


def _log_epoch(log, epoch: int, epochs: int, logs: dict) -> None:
    if log is None:
        return
    parts = [f"{key} {value:.3f}" for key, value in logs.items() if key in
             ("loss", "accuracy", "val_loss", "val_accuracy")]
    log(f"epoch {epoch + 1}/{epochs}: " + ", ".join(parts))
