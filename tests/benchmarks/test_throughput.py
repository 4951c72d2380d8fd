"""The throughput benchmark's steps and ratios."""

import pytest

import kd_toolkit as kd
from benchmarks import throughput


def test_method_rows_are_built_from_the_registry_and_run():
    def net(name, width):
        return kd.models.get(
            name, input_shape=(16, 16, 1), num_classes=10, base_width=width
        )

    steps = throughput.build_steps(
        net("resnet8", 8),
        lambda: net("resnet8", 4),
        batch_size=8,
        temperature=1.0,
        xla=False,
        loss_methods=["review_kd"],
    )
    assert set(steps) == {
        "student",
        "teacher_inference",
        "kd",
        "kd_cached",
        "keras_fair",
        "keras_default",
        "review_kd",
    }
    # One step of the new row (tracing every row would take a minute).
    logs = steps["review_kd"]()
    assert logs is not None


def test_method_rows_get_their_cost_over_kd():
    seconds = {
        "student": 0.010,
        "teacher_inference": 0.012,
        "kd": 0.020,
        "kd_cached": 0.011,
        "keras_fair": 0.021,
        "crd": 0.030,
        "review_kd": 0.050,
    }
    times = {k: [v, v, v] for k, v in seconds.items()}
    ratios = throughput.summarize(times, 8, 4, 30)["ratios"]
    assert ratios["cost_crd_over_kd"] == pytest.approx(1.5)
    assert ratios["cost_review_kd_over_kd"] == pytest.approx(2.5)
    assert not [k for k in ratios if k.startswith("cost_kd_over_kd")]
