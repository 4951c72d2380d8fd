"""`check_refine`: the refinements a search accepts, and the errors for the
rest (the refinement itself runs in test_student_search.py)."""

import pytest

from kd_toolkit import recipes
from kd_toolkit.recipes.search_refine import check_refine


@pytest.mark.parametrize("refine", [None, "", (), []])
def test_no_refinement(refine):
    assert check_refine(refine, recipes.Budget()) == ()


def test_names_parse_in_order():
    parsed = check_refine("prune50, qat", recipes.Budget())
    assert [(m.name, m.kind, m.sparsity) for m in parsed] == [
        ("prune50", "prune", 0.5),
        ("qat", "qat", None),
    ]
    assert [m.name for m in check_refine(["qat"], recipes.Budget())] == ["qat"]


@pytest.mark.parametrize(
    "refine, budget, match",
    [
        ("nope", recipes.Budget(), r"Received: refine='nope'.*prune<NN>"),
        ("ptq_int8", recipes.Budget(), "already exported post-training"),
        ("qat,qat", recipes.Budget(), "more than once"),
        (
            "qat",
            recipes.Budget(format="tflite_float16"),
            "format is 'tflite_float16'",
        ),
    ],
)
def test_bad_refinements_are_named(refine, budget, match):
    with pytest.raises(ValueError, match=match):
        check_refine(refine, budget)


def test_pruning_refines_any_format():
    budget = recipes.Budget(format="tflite_float16")
    assert check_refine("prune80", budget)[0].sparsity == 0.8
