"""Labelled synthetic all-sky frames for the ML tests: clear, partly and overcast of known cover.

Built on ``make_sky`` from the classical detector's tests; sky level, cloud light and cover vary
within each class so that the model must learn the classes, not one frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.unit.allsky_synth import make_sky, save_jpeg

COVER = {"clear": (0.0, 0.0), "partly": (0.2, 0.4), "overcast": (0.9, 1.0)}


def labelled_sky(label: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    low, high = COVER[label]
    image, _ = make_sky(seed=seed, coverage=float(rng.uniform(low, high)), level=float(rng.uniform(24, 36)),
                        cloud_light=float(rng.uniform(15, 30)))
    return image


def write_labelled(directory: Path, per_class: int, first_seed: int) -> list[tuple[Path, str]]:
    """``directory/<label>/<n>.jpg`` for each class; the (path, label) pairs written."""
    out = []
    for k, label in enumerate(COVER):
        (directory / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            seed = first_seed + 100 * k + i
            out.append((Path(save_jpeg(labelled_sky(label, seed), directory / label / f"{seed}.jpg")), label))
    return out
