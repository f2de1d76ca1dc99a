"""Accuracy and confusion matrix of predicted against true labels, as a dict and as text."""
from __future__ import annotations

from collections import Counter

__all__ = ["score", "format_score"]

CORNER = "true \\ predicted"


def score(truth: list[str], predicted: list[str], labels: list[str] | None = None) -> dict:
    """``labels`` orders the matrix (true classes first); predictions outside it are added after."""
    order = list(labels) if labels else sorted(set(truth))
    order += sorted(set(predicted) - set(order))
    index = {label: i for i, label in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    for t, p in zip(truth, predicted):
        matrix[index[t]][index[p]] += 1
    right = sum(t == p for t, p in zip(truth, predicted))
    return {"count": len(truth), "accuracy": round(right / len(truth), 4) if truth else None,
            "counts": dict(Counter(truth)), "labels": order, "confusion": matrix}


def format_score(result: dict) -> str:
    """Accuracy, then the confusion matrix: one row per true class, one column per prediction."""
    accuracy = "-" if result["accuracy"] is None else f"{result['accuracy']:.3f}"
    lines = [f"accuracy {accuracy} on {result['count']} images"]
    labels = result["labels"]
    width = max([len(x) for x in labels] + [len(CORNER)])
    lines.append(f"{CORNER:<{width}} " + " ".join(f"{x:>{max(len(x), 5)}}" for x in labels))
    for label, row in zip(labels, result["confusion"]):
        if label not in result["counts"]:
            continue  # a label only ever predicted has no row
        lines.append(f"{label:<{width}} " + " ".join(f"{n:>{max(len(x), 5)}}" for n, x in zip(row, labels)))
    return "\n".join(lines)
