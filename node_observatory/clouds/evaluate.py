"""Run a detector over labelled folders and score it against the folder names."""
from __future__ import annotations

from pathlib import Path

from .dataset import labelled_images
from .imageio import ImageReadError
from .metrics import score
from .mlmodel import cloud_label

__all__ = ["evaluate"]


def evaluate(directory: str | Path, detector) -> dict:
    """The score (see ``metrics.score``) plus ``errors``: one message per file that failed."""
    truth, predicted, errors = [], [], []
    for path, folder in labelled_images(directory):
        try:
            result = detector.classify_file(path)
        except (ImageReadError, ValueError) as exc:
            errors.append(str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            continue
        truth.append(cloud_label(folder))
        predicted.append(result.label)
    report = score(truth, predicted)
    report["errors"] = errors
    return report
