"""The student-search benchmark's page, from a fabricated run."""

from benchmarks import student_search
from kd_toolkit import recipes


def _record(name, params, accuracy, latency):
    return {
        "name": name,
        "params": params,
        "keras_accuracy": accuracy + 0.5,
        "accuracy": accuracy,
        "latency_ms": latency,
        "flash_bytes": params * 2,
        "arena_bytes": 1000,
        "passed": True,
        "edge_tpu_ready": True,
    }


def test_the_page_shows_the_ratio_the_winners_and_every_candidate():
    payload = {
        "machine": "x86_64, 2 CPU cores",
        "cpu_flags": ["avx2"],
        "command": "python -m benchmarks.student_search",
        "settings": {"train_images": 100, "val_images": 50, "epochs": 1},
        "summary": {
            "search_seconds": 30.0,
            "cache_seconds": 2.0,
            "cached_train_seconds": 10.0,
            "export_seconds": 15.0,
            "one_by_one_train_seconds": 24.0,
            "train_ratio": 0.5,
            "whole_ratio": 30.0 / 39.0,
            "refine_seconds": 12.0,
        },
        "winners": {
            "0.01": {"budget_ms": 0.01, "winner": None},
            "0.1": {
                "budget_ms": 0.1,
                "winner": "a",
                "distilled_int8": 80.0,
                "distilled_keras": 80.5,
                "alone_keras": 78.0,
                "latency_ms": 0.05,
                "flash_bytes": 2000,
                "next_larger": {
                    "name": "b",
                    "misses": ["latency 0.2 ms > 0.1 ms"],
                },
            },
        },
        "candidates": [
            _record("a", 1000, 80.0, 0.05),
            _record("b", 5000, 85.0, 0.2),
        ],
        "refined": [
            dict(
                _record("b+qat", 5000, 85.25, 0.2),
                refined_from="b",
                refinement="qat",
            )
        ],
    }
    text = student_search.to_markdown(payload, recipes.Budget(threads=1))
    assert "**0.50×**" in text and "0.77×" in text
    assert "| 0.01 ms | none fits |" in text
    assert (
        "| 0.1 ms | a | 0.0500 | 2,000 | 80.00 | 80.50 | 78.00 | b: latency"
        in text
    )
    assert "| b | 5,000 | 85.50 | 85.00 | 0.2000 |" in text
    assert "CPU flags avx2" in text
    assert "refined by qat" in text and "12.0 s in all" in text
    assert "| b+qat | 5,000 | 85.75 | 85.25 | 0.2000 |" in text
