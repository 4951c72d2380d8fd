"""How a compressed student is fine-tuned while distilling the teacher."""

import dataclasses

from kd_toolkit.utils import validation

LR_SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adam", "sgd")


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """The schedule and loss of a KD fine-tuning run (pruning, QAT).

    One object for what `distill_finetune`, `prune`, `quantize_aware_train`
    and `compress_and_compare` share. Per batch, with labels `y`, student
    logits `s` and teacher logits `t`:

    ```
    loss = ce_weight · CE(y, s)
         + kd_weight · τ² · KL(softmax(t/τ) ‖ softmax(s/τ))
    ```

    Args:
        epochs: int >= 1. Defaults to `1`.
        steps_per_epoch: int >= 1 or None (the whole dataset per epoch).
        learning_rate: float > 0. Initial rate. Defaults to `1e-4`.
        lr_schedule: str. `"cosine"` (default: decay to 0 over all the
            steps; the dataset's length must then be known, or
            `steps_per_epoch` given) or `"constant"`.
        optimizer: str. `"adam"` (default) or `"sgd"`.
        temperature: float > 0. KD temperature `τ`. Defaults to `4.0`.
        ce_weight: float >= 0. Defaults to `1.0`.
        kd_weight: float >= 0. Defaults to `1.0`.

    Raises:
        ValueError: for a bad value, naming the field.

    Example:

    ```python
    tuning = FineTuning(epochs=2, learning_rate=1e-3)
    result = prune(student, teacher, train_ds, target_sparsity=0.5,
                   fine_tuning=tuning)
    qat = quantize_aware_train(student, teacher, train_ds,
                               fine_tuning=tuning.replace(learning_rate=1e-4))
    ```
    """

    epochs: int = 1
    steps_per_epoch: int | None = None
    learning_rate: float = 1e-4
    lr_schedule: str = "cosine"
    optimizer: str = "adam"
    temperature: float = 4.0
    ce_weight: float = 1.0
    kd_weight: float = 1.0

    def __post_init__(self):
        validation.check_int("epochs", self.epochs, 1)
        validation.check_int(
            "steps_per_epoch", self.steps_per_epoch, 1, allow_none=True
        )
        validation.check_positive("learning_rate", self.learning_rate)
        validation.check_positive("temperature", self.temperature)
        validation.check_non_negative("ce_weight", self.ce_weight)
        validation.check_non_negative("kd_weight", self.kd_weight)
        validation.check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        validation.check_choice("optimizer", self.optimizer, OPTIMIZERS)

    def replace(self, **changes):
        """A copy with `changes` (checked as a new one is)."""
        return dataclasses.replace(self, **changes)


def check_fine_tuning(value, default, arg="fine_tuning"):
    """`value` if it is a `FineTuning`, `default` for None, else a TypeError
    naming `arg`."""
    return validation.check_option(
        arg, value, FineTuning, default, "kd_toolkit.compress"
    )


# The defaults of `prune` and `quantize_aware_train`: a pruned network has
# to recover (2 epochs at 1e-3); QAT only adapts to the rounding (1 epoch
# at 1e-4).
PRUNE_FINE_TUNING = FineTuning(epochs=2, learning_rate=1e-3)
QAT_FINE_TUNING = FineTuning(epochs=1, learning_rate=1e-4)
