"""Example: distil the shipped resnet20 teacher into a small resnet8.

The Python API end to end, step by step: data, teacher, teacher-output
cache, distiller, save, export. It teaches the recipe our benchmarks found
to work for this student: Hinton KD at a low temperature with half the
weight on the labels (validation search: benchmarks/results/
tune_kd_search.md), trained from cached teacher logits so that it costs
about what training the student alone costs.

`python examples/distill_fashion_mnist.py --quick` runs it with tiny
settings in well under a minute on 2 CPU cores; without `--quick` it takes
a few minutes (20k images, 6 epochs).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from absl import app
from absl import flags

import kd_toolkit as kd

FLAGS = flags.FLAGS
flags.DEFINE_bool("quick", False, "Tiny settings for a smoke run.")
flags.DEFINE_string("out_dir", "runs/example", "Where files are written.")

TEMPERATURE = 1.0  # KD temperature τ for this small student.
KD_WEIGHT = 0.5  # α: weight of the KD term; the labels get 1 − α.


def main(argv):
    del argv
    limit, epochs = (1024, 1) if FLAGS.quick else (20000, 6)
    os.makedirs(FLAGS.out_dir, exist_ok=True)

    # 1. Data as numpy arrays (float32 in [0, 1]) and a test pipeline.
    x, y = kd.data.load_numpy("fashion_mnist", "train", limit=limit)
    test_ds = kd.data.load(
        "fashion_mnist",
        "test",
        batch_size=512,
        limit=2000 if FLAGS.quick else None,
    )

    # 2. A trained teacher: the shipped one (train your own with
    #    `teacher.fit(...)` or `python -m kd_toolkit.train --teacher_only`).
    teacher = kd.pretrained.load("fashion_mnist_resnet20")

    # 3. Run the frozen teacher once over 4 augmented views (pad-crop-flip)
    #    of every image and keep its logits, next to the other outputs.
    cache = kd.TeacherLogitsCache.get_or_build(
        os.path.join(FLAGS.out_dir, f"teacher.train{limit}.logits.npz"),
        teacher,
        x,
        augment=kd.data.augment_spec("fashion_mnist"),
        draws=4,
    )

    # 4. The student learns from the labels and from the teacher's softened
    #    outputs; each batch carries the teacher's logits for its views, so
    #    the teacher does not run during training.
    student = kd.models.get(
        "resnet8", input_shape=(28, 28, 1), num_classes=10, base_width=8
    )
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[kd.losses.KD(temperature=TEMPERATURE, weight=KD_WEIGHT)],
        student_loss_weight=1.0 - KD_WEIGHT,
    )
    steps = epochs * -(-limit // 128)
    distiller.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(2e-3, steps)
        ),
        metrics=["accuracy"],
    )
    distiller.fit(
        cache.dataset(x, y, batch_size=128, seed=0),
        validation_data=test_ds,
        epochs=epochs,
        verbose=2,
    )

    # 5. Save the student alone: it is all that ships.
    path = os.path.join(FLAGS.out_dir, "student.keras")
    distiller.student.save(path)
    results = distiller.evaluate(test_ds, verbose=0, return_dict=True)
    print(f"distilled student top-1 {results['accuracy']:.4f}; saved {path}")
    print(
        "Export it with: python export/export_student.py "
        f"--model={path} --dataset=fashion_mnist "
        f"--out_dir={FLAGS.out_dir}/export --size_basis=weights"
    )


if __name__ == "__main__":
    app.run(main)
