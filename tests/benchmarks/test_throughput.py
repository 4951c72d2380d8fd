"""The throughput benchmark's steps and ratios."""

import math

import pytest

import kd_toolkit as kd
from benchmarks import throughput


def test_method_rows_are_built_from_the_registry_and_run():
    def net(name, width):
        return kd.models.get(
            name, input_shape=(16, 16, 1), num_classes=10, base_width=width
        )

    info = {}
    steps = throughput.build_steps(
        net("resnet8", 8),
        lambda: net("resnet8", 4),
        batch_size=8,
        temperature=1.0,
        xla=False,
        loss_methods=["review_kd", "ama_cached", "pkt"],
        plan_info=info,
    )
    assert set(steps) == {
        "student",
        "teacher_inference",
        "teacher_inference_unfolded",
        "kd",
        "kd_unfolded",
        "kd_cached",
        "keras_fair",
        "keras_default",
        "review_kd",
        "ama_cached",
        "pkt",
    }
    # One step of each method row (tracing every row would take a minute);
    # PKT's batch carries the cached pooled embedding.
    for name in ("review_kd", "ama_cached", "pkt"):
        assert steps[name]() is not None, name
    assert 0 < info["ama_cached"]["adapted_teacher_macs_ratio"] < 0.5


def test_method_rows_get_their_cost_over_kd():
    seconds = {
        "student": 0.010,
        "teacher_inference": 0.012,
        "kd": 0.020,
        "kd_cached": 0.011,
        "keras_fair": 0.021,
        "crd": 0.030,
        "review_kd": 0.050,
        "ama_cached": 0.016,
    }
    times = {k: [v, v, v] for k, v in seconds.items()}
    ratios = throughput.summarize(times, 8, 4, 30)["ratios"]
    assert ratios["cost_crd_over_kd"] == pytest.approx(1.5)
    assert ratios["cost_review_kd_over_kd"] == pytest.approx(2.5)
    assert "speedup_fold_kd" not in ratios  # no unfolded rows: no ratio
    seconds.update(teacher_inference_unfolded=0.015, kd_unfolded=0.022)
    times = {k: [v, v, v] for k, v in seconds.items()}
    ratios = throughput.summarize(times, 8, 4, 30)["ratios"]
    assert ratios["speedup_fold_teacher_inference"] == pytest.approx(1.25)
    assert ratios["speedup_fold_kd"] == pytest.approx(1.1)
    assert ratios["speedup_kd_unfolded_vs_keras_same_xla"] == pytest.approx(
        21 / 22
    )
    assert not [k for k in ratios if k.startswith("cost_kd_over_kd")]
    # A method that trains from the cache but still runs a teacher (AMA's
    # adapted one) also gets its speed-up over live KD and over Keras.
    assert ratios["speedup_ama_cached_vs_kd"] == pytest.approx(1.25)
    assert ratios["speedup_ama_cached_vs_keras_fastest"] == pytest.approx(
        0.021 / 0.016
    )
    assert ratios["cost_ama_cached_over_kd_cached"] == pytest.approx(
        0.016 / 0.011
    )
    # CRD reads the cached pooled embedding: it trains from the cache too.
    assert ratios["speedup_crd_vs_kd"] == pytest.approx(0.020 / 0.030)
    # ReviewKD runs the teacher for its maps: no cache speed-up to report.
    assert "speedup_review_kd_vs_kd" not in ratios


def test_ratios_paired_by_round_get_a_confidence_interval():
    # Keras's step takes 1.1x ours in rounds 1 and 3 and 1.0x in round 2,
    # whatever the machine's speed in that round (rounds 2 and 3 slower).
    kd_times = [0.100, 0.200, 0.150]
    keras_times = [0.110, 0.200, 0.165]
    times = {
        "student": [0.05] * 3,
        "teacher_inference": [0.04] * 3,
        "kd_cached": [0.06] * 3,
        "kd": kd_times,
        "keras_fair": keras_times,
    }
    result = throughput.summarize(times, 8, 4, 30)
    paired = result["ratio_intervals"]["speedup_kd_vs_keras_same_xla"]
    logs = [math.log(1.1), 0.0, math.log(1.1)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in logs) / 2)
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2 df)
    assert paired["mean"] == pytest.approx(1.1 ** (2 / 3))
    assert paired["low"] == pytest.approx(math.exp(mean - half), rel=1e-5)
    assert paired["high"] == pytest.approx(math.exp(mean + half), rel=1e-5)
    assert paired["rounds"] == 3
    # The ratio of medians is 0.165 / 0.150: the pairing is what separates
    # the steps from the machine's slow spells.
    ratio = result["ratios"]["speedup_kd_vs_keras_same_xla"]
    assert ratio == pytest.approx(1.1)
    assert throughput.paired_ratio([0.1], [0.1]) is None
