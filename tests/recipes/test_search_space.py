"""Candidates and budgets of the student search: parsing, checks, misses."""

import pytest

from kd_toolkit import recipes
from kd_toolkit.compress import compression_methods as compress_methods
from kd_toolkit.recipes import search_refine
from kd_toolkit.recipes import search_report
from kd_toolkit.recipes.search_space import check_candidates
from kd_toolkit.recipes.search_space import file_stem


def test_candidates_parse_zoo_specs_with_literal_options():
    c = recipes.Candidate.parse(
        "mobilenet_tiny:filters=(8, 16, 32),stem_filters=8"
    )
    assert c.name == "mobilenet_tiny:filters=(8, 16, 32),stem_filters=8"
    assert c.file_stem == "mobilenet_tiny_filters=_8_16_32_stem_filters=8"
    model = c.build((16, 16, 1), 3)
    assert model.output_shape == (None, 3)
    assert recipes.Candidate.parse("resnet8").name == "resnet8"


def test_a_refinement_names_its_files_as_a_candidate_does():
    # The refinements' names join the winner's and the method's with "+".
    name = search_refine.refined_name(
        "resnet8:base_width=4", compress_methods.parse_methods("qat")[0]
    )
    assert file_stem(name) == "resnet8_base_width=4+qat"
    assert file_stem(" a//b ") == "a_b"


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("nope:base_width=4", "Received: arch='nope'"),
        ("resnet8:base_width", "resnet8:base_width=4"),
        ("resnet8:4", "Received: 'resnet8:4'"),
    ],
)
def test_bad_candidate_specs_are_named(spec, needle):
    with pytest.raises(ValueError, match="candidate") as info:
        recipes.Candidate.parse(spec)
    assert needle in str(info.value)


def test_candidate_names_must_be_unique():
    with pytest.raises(ValueError, match="repeated names"):
        check_candidates(["resnet8:base_width=4", "resnet8:base_width=4"])
    assert len(check_candidates(None)) == len(recipes.default_ladder())


def test_the_default_ladder_spans_5k_to_300k_parameters():
    params = sorted(
        c.build((28, 28, 1), 10).count_params()
        for c in recipes.default_ladder()
    )
    assert len(params) >= 6
    assert 3_000 <= params[0] <= 8_000, params
    assert 200_000 <= params[-1] <= 400_000, params


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"latency_ms": -1}, "Received: latency_ms=-1"),
        ({"threads": 0}, "threads"),
        ({"flash_bytes": 0}, "flash_bytes"),
        ({"format": "onnx"}, "Received: format='onnx'"),
        ({"arena_bytes": 10, "format": "tflite_float16"}, "arena_bytes"),
        ({"edge_tpu": True, "format": "tflite_float32"}, "edge_tpu"),
    ],
)
def test_bad_budgets_are_named(kwargs, needle):
    with pytest.raises(ValueError) as info:
        recipes.Budget(**kwargs)
    assert needle in str(info.value)


def _record(name, params, accuracy, latency, flash, arena=1000, **extra):
    return {
        "name": name,
        "params": params,
        "accuracy": accuracy,
        "keras_accuracy": accuracy,
        "latency_ms": latency,
        "flash_bytes": flash,
        "arena_bytes": arena,
        "passed": True,
        "edge_tpu_ready": True,
        **extra,
    }


RECORDS = [
    _record("small", 5_000, 80.0, 0.02, 9_000, arena=4_000),
    _record("medium", 20_000, 85.0, 0.06, 30_000, arena=9_000),
    _record("large", 80_000, 88.0, 0.25, 100_000, arena=30_000),
    _record(
        "broken",
        40_000,
        90.0,
        0.05,
        50_000,
        passed=False,
        failed_checks=["top-1 agreement 0.5 < 0.98"],
    ),
]


@pytest.mark.parametrize(
    "budget, winner, miss",
    [
        (recipes.Budget(), "large", None),
        (recipes.Budget(latency_ms=0.1), "medium", "latency 0.25 ms > 0.1 ms"),
        (recipes.Budget(latency_ms=0.05), "small", "latency 0.06 ms > 0.05"),
        (recipes.Budget(flash_bytes=50_000), "medium", "flash 100,000 B"),
        (recipes.Budget(arena_bytes=5_000), "small", "arena 9,000 B > 5,000"),
        (recipes.Budget(latency_ms=0.01), None, None),
    ],
)
def test_each_budget_kind_ranks_and_names_the_next_larger_miss(
    budget, winner, miss
):
    best = search_report.rank(RECORDS, budget)
    assert (best and best["name"]) == winner
    info = {
        "method": "kd",
        "epochs": 1,
        "train_examples": 10,
        "val_examples": 5,
        "cache_seconds": 0.1,
    }
    text = search_report.to_markdown(RECORDS, budget, best, info)
    assert "failed verification: top-1 agreement 0.5 < 0.98" in text
    if winner is None:
        assert "No candidate passed verification within the budget" in text
    else:
        assert f"Winner: **{winner}**" in text
    if miss:
        assert miss in text.split("Winner:")[1]


def test_edge_tpu_budget_excludes_a_candidate_that_is_not_ready():
    records = [
        _record("a", 1, 70.0, 0.01, 1),
        _record(
            "b",
            2,
            75.0,
            0.01,
            1,
            edge_tpu_ready=False,
            edge_tpu_problem="op MEAN is not supported",
        ),
    ]
    budget = recipes.Budget(edge_tpu=True)
    assert search_report.rank(records, budget)["name"] == "a"
    assert budget.misses(records[1]) == [
        "not Edge TPU ready: op MEAN is not supported"
    ]


def test_the_pareto_front_joins_what_no_faster_candidate_beats():
    front = search_report.pareto_front(
        RECORDS + [_record("slow_and_bad", 9, 70.0, 0.5, 1)]
    )
    assert [r["name"] for r in front] == ["small", "medium", "large"]
