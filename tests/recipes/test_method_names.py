"""A method and a loss that share a name mean the same thing: the method
trains with that loss (at the recipe's settings), and a feature or relation
loss always comes with Hinton KD, as the method's label says ("+ KD")."""

import dataclasses

import kd_toolkit as kd
from kd_toolkit.recipes import methods


def test_a_method_named_after_a_loss_trains_with_that_loss():
    teacher = kd.models.get("resnet20", input_shape=(28, 28, 1), num_classes=10)
    student = kd.models.get("resnet8", input_shape=(28, 28, 1), num_classes=10)
    settings = kd.recipes.MethodSettings()
    # No warm-up: only the plan's losses are compared.
    settings = dataclasses.replace(
        settings, ama=dataclasses.replace(settings.ama, warmup_steps=0)
    )
    shared = sorted(set(kd.losses.names()) & set(methods.names()))
    assert {"kd", "ama", "dkd"} <= set(shared)
    for name in shared:
        method = methods.get(name)
        plan = method.plan(settings, teacher, student)
        classes = {type(loss) for loss in plan.losses}
        own = kd.losses.get_class(name)
        extra = set() if method.logits_only else {kd.losses.get_class("kd")}
        assert classes == {own} | extra, (name, classes)
        if extra:
            assert "+ KD" in method.label, (name, method.label)
