"""Time per all-sky frame of the classical cloud detector and of LiteRT inference (not in the suite).

    taskset -c 0 .venv/bin/python -m tests.bench.bench_clouds [--repeat 10] [--image FRAME.jpg]
                                                            [--model model.tflite] [--size 128]

Frames of 1920x1080 and 3000x3000, saved as JPEG: the synthetic sky of the unit tests drawn at
each size (30% cloud, known cover printed beside the detector's verdict), or ``--image`` scaled
to fill the frame's height. The LiteRT model is ``--model``, or else the network
``obsy clouds train`` builds (untrained weights: the time does not depend on them), converted
here with TensorFlow. The measurements run in a fresh process where TensorFlow cannot be
imported, on the cores ``taskset`` allows (one, for the targets), with one thread each.

Per frame size, median and best wall time of ``--repeat`` runs and the median CPU time, in ms:
- baseline: reading the JPEG (decode + luminance), measured in the same run;
- classical: sky circle estimate + ``classify`` (what ``obsy clouds classify IMAGE`` does),
  and ``classify`` alone with a fixed sky model; target < 300 ms;
- LiteRT: frame to model input (crop, resize, scale) + ``invoke``, and ``invoke`` alone;
  target < 100 ms.
The ratios are each time over the baseline's.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = ((1920, 1080), (3000, 3000))
TARGETS_MS = {"classical": 300.0, "litert": 100.0}


def make_frame(width: int, height: int, source: str | None) -> tuple[np.ndarray, float | None]:
    """An 8-bit frame and its true cloud cover (None for ``source``).

    Synthetic: the unit tests' sky drawn at this size (``Fisheye.scaled``: the disc fills the
    frame's height), 30% cloud cover, 8000 stars of sigma 1.1 px. ``source``: a real frame scaled to
    the frame's height (its stars grow with it), centred, black around it.
    """
    from PIL import Image

    if not source:
        from tests.unit.allsky_synth import Fisheye, make_sky

        sky, truth = make_sky(seed=3, coverage=0.3, camera=Fisheye.scaled(width, height), star_sigma=1.1)
        return np.round(sky).astype(np.uint8), truth
    sky = Image.open(source).convert("L")
    scale = height / sky.height
    sky = sky.resize((max(1, round(sky.width * scale)), height), Image.Resampling.BILINEAR)
    frame = Image.new("L", (width, height))
    frame.paste(sky, ((width - sky.width) // 2, 0))
    return np.asarray(frame), None


def build_tflite(path: Path, size: int) -> None:
    from node_observatory.clouds import _optional
    from node_observatory.clouds.train import build_model, to_tflite

    tf = _optional.tensorflow()
    path.write_bytes(to_tflite(tf, build_model(tf.keras, size, 1, 4)))
    (path.parent / "labels.txt").write_text("0 clear\n1 partly\n2 cloudy\n3 overcast\n")


def _timed(repeat: int, call) -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds of ``repeat`` calls. CPU time (this process, one thread) barely
    changes when other work shares the core; wall time is what the targets are about."""
    call()  # warm-up: first calls fill caches and allocate
    times = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        call()
        times.append(((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000))
    return times


def _measure(paths: list[str], model: str, repeat: int, queue) -> None:
    sys.modules["tensorflow"] = None   # LiteRT alone, as on an observatory node without TensorFlow
    from node_observatory.clouds import SkyModel, classify, estimate_sky_circle, load_image
    from node_observatory.clouds.mlinput import model_input
    from node_observatory.clouds.mlmodel import MlDetector, load_model

    detector = MlDetector(load_model(model))
    m = detector.model
    rows = []
    for path in paths:
        image = load_image(path)

        def circle_and_classify():
            c = estimate_sky_circle([image])
            classify(image, SkyModel(c.cx, c.cy, c.radius, mask=c.mask))

        c = estimate_sky_circle([image])
        fixed = SkyModel(c.cx, c.cy, c.radius, mask=c.mask)
        x = model_input(image, m.height, m.width, m.channels)
        verdict = classify(image, fixed)
        rows.append({
            "frame": f"{image.data.shape[1]}x{image.data.shape[0]}",
            "verdict": f"{verdict.label}, cloud fraction {verdict.cloud_fraction}, {verdict.stars_detected} stars",
            "baseline": _timed(repeat, lambda: load_image(path)),
            "classical": _timed(repeat, circle_and_classify),
            "classify only": _timed(repeat, lambda: classify(image, fixed)),
            "litert": _timed(repeat, lambda: detector.classify(model_input(image, m.height, m.width, m.channels))),
            "invoke only": _timed(repeat, lambda: m.predict(x)),
        })
    queue.put({"rows": rows, "backend": m.backend, "input": f"{m.height}x{m.width}x{m.channels}",
               "tensorflow_imported": bool(sys.modules.get("tensorflow"))})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--image", help="a real all-sky frame to scale instead of the synthetic sky")
    parser.add_argument("--model", help="a .tflite model (with labels.txt beside it)")
    parser.add_argument("--size", type=int, default=128, help="input side of the built model")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"cores allowed: {sorted(os.sched_getaffinity(0))}; repeat {args.repeat}; "
          f"sky: {args.image or 'synthetic (tests.unit.allsky_synth.make_sky at each size)'}")
    with tempfile.TemporaryDirectory(prefix="obsy-bench-clouds-") as tmp:
        from PIL import Image

        paths, truths = [], []
        for width, height in SIZES:
            path = Path(tmp) / f"frame_{width}x{height}.jpg"
            frame, truth = make_frame(width, height, args.image)
            Image.fromarray(frame, "L").save(path, quality=92)
            paths.append(str(path))
            truths.append(truth)
        model = args.model
        if model is None:
            model = str(Path(tmp) / "model.tflite")
            build_tflite(Path(model), args.size)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_measure, args=(paths, model, args.repeat, queue))
        child.start()
        result = queue.get()
        child.join()
    print(f"LiteRT backend {result['backend']}, input {result['input']}, "
          f"TensorFlow imported in the measuring process: {result['tensorflow_imported']}")
    for row, truth in zip(result["rows"], truths):
        base = statistics.median(wall for wall, _ in row["baseline"])
        known = "" if truth is None else f" (true cover {truth:.3f})"
        print(f"{row['frame']}: classical verdict {row['verdict']}{known}")
        for name in ("baseline", "classical", "classify only", "litert", "invoke only"):
            walls, cpus = [w for w, _ in row[name]], [c for _, c in row[name]]
            median, best = statistics.median(walls), min(walls)
            target = TARGETS_MS.get(name)
            verdict = "" if target is None else f"  target < {target:.0f} ms: {'met' if median < target else 'MISSED'}"
            print(f"  {name:14s} median {median:8.1f} ms  best {best:8.1f} ms  CPU median "
                  f"{statistics.median(cpus):8.1f} ms  x baseline {median / base:6.2f}{verdict}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (wall times above grow with it, CPU times barely)")


if __name__ == "__main__":
    sys.exit(main())
