"""A model card next to the exported artifacts: what a deployer must know."""

import dataclasses
import json
import pathlib

from kd_toolkit.export.edgetpu_check import edgetpu_check
from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.utils.atomic_io import atomic_write_texts

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"

_KOTLIN = """// UNTESTED here (no Android toolchain): LiteRT Kotlin API.
val interpreter = Interpreter(FileUtil.loadMappedFile(context, "{file}"))
val input = ByteBuffer.allocateDirect({input_bytes})
    .order(ByteOrder.nativeOrder())
// fill `input` with one {input_desc}
val output = {output_alloc}
interpreter.run(input, output)"""

_PYTHON = """from ai_edge_litert.interpreter import Interpreter
import numpy as np

interpreter = Interpreter(model_path="{file}")
interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]
x = np.zeros({shape}, np.float32)   # pixels scaled to [0, 1]{quant_in}
interpreter.set_tensor(inp["index"], x)
interpreter.invoke()
y = interpreter.get_tensor(out["index"]){quant_out}
label = int(np.argmax(y[0]))"""


def model_card(report, class_names=None, output_kind="logits"):
    """The card of an `ExportReport` as a dict (JSON-ready).

    For each passing `.tflite` artifact it records the input and output
    dtypes and, for quantized I/O, the scale and zero point read from the
    file itself, with the parity and accuracy figures the export measured.

    Args:
        report: `ExportReport` of `export_and_verify`.
        class_names: sequence of str or None. Label of each output index.
        output_kind: `"logits"` or `"probabilities"`: what the model
            outputs.

    Returns:
        dict.
    """
    artifacts = []
    for a in report.artifacts:
        if not a.passed:
            continue
        entry = {
            "format": a.format,
            "file": pathlib.Path(a.path).name,
            "size_bytes": a.size_bytes,
            "top1_agreement": a.parity.top1_agreement,
            "accuracy": a.parity.accuracy,
            "max_abs_diff": a.parity.max_abs_diff,
        }
        if a.path.endswith(".tflite"):
            runner = LiteRTRunner(a.path)
            entry["input"] = _tensor(runner.input_detail)
            entry["output"] = _tensor(runner.output_detail)
            if entry["input"]["dtype"] == "int8":
                entry["edgetpu"] = dataclasses.asdict(edgetpu_check(a.path))
        artifacts.append(entry)
    return {
        "model": report.model_name,
        "dataset": report.dataset,
        "input": {
            "shape": next(
                (a["input"]["shape"] for a in artifacts if "input" in a), None
            ),
            "dtype": "float32",
            "range": [0.0, 1.0],
            "normalisation": "pixel / 255 (no mean or std)",
        },
        "output": {
            "kind": output_kind,
            "classes": None if class_names is None else list(class_names),
        },
        "keras_accuracy": report.keras_accuracy,
        "evaluated_on": report.num_eval_samples,
        "artifacts": artifacts,
    }


def write_model_card(
    report, out_dir, class_names=None, output_kind="logits", overwrite=False
):
    """Writes `model_card.json` and `model_card.md` atomically.

    Returns:
        `(json_path, markdown_path)`.
    """
    card = model_card(report, class_names, output_kind)
    out_dir = pathlib.Path(out_dir)
    paths = (out_dir / CARD_JSON, out_dir / CARD_MARKDOWN)
    atomic_write_texts(
        {
            paths[0]: json.dumps(card, indent=2) + "\n",
            paths[1]: to_markdown(card),
        },
        overwrite,
    )
    return paths


def to_markdown(card):
    """The card as Markdown, with LiteRT snippets for the int8 artifact."""
    shape = card["input"]["shape"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        f"- input: float32 `{tuple(shape)}` per image, values in "
        f"[0, 1] ({card['input']['normalisation']})",
        f"- output: {card['output']['kind']}, one per class",
    ]
    if card["output"]["classes"]:
        names = ", ".join(
            f"{i}: {n}" for i, n in enumerate(card["output"]["classes"])
        )
        lines.append(f"- classes: {names}")
    if card["keras_accuracy"] is not None:
        lines.append(
            f"- Keras top-1: {card['keras_accuracy']:.2f}% on "
            f"{card['evaluated_on']} images of {card['dataset']}"
        )
    lines += [
        "",
        "| file | input | output | top-1 agreement with Keras | "
        "accuracy (%) | size (bytes) |",
        "|---|---|---|---|---|---|",
    ]
    for a in card["artifacts"]:
        lines.append(
            f"| {a['file']} | {_describe(a.get('input'))} | "
            f"{_describe(a.get('output'))} | "
            f"{100 * a['top1_agreement']:.2f}% | "
            f"{_number(a['accuracy'])} | {a['size_bytes']} |"
        )
    for a in card["artifacts"]:
        if "edgetpu" in a:
            check = a["edgetpu"]
            verdict = (
                "no problem found"
                if check["ready"]
                else "; ".join(check["problems"])
            )
            lines += [
                "",
                f"Edge TPU readiness of {a['file']} "
                f"({check['note']}): {verdict}.",
            ]
    int8 = next(
        (
            a
            for a in card["artifacts"]
            if a.get("input", {}).get("dtype") == "int8"
        ),
        None,
    )
    chosen = int8 or next((a for a in card["artifacts"] if "input" in a), None)
    if chosen is not None:
        lines += [
            "",
            f"## Calling `{chosen['file']}`",
            "",
            "Python (LiteRT):",
            "",
            "```python",
            _python(chosen, shape),
            "```",
            "",
            "Kotlin (LiteRT for Android, **untested**):",
            "",
            "```kotlin",
            _kotlin(chosen, shape),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _tensor(detail):
    scale, zero_point = detail["quantization"]
    out = {
        "dtype": str(detail["dtype"].__name__),
        "shape": [int(d) for d in detail["shape"]],
    }
    if scale:
        out.update(scale=float(scale), zero_point=int(zero_point))
    return out


def _describe(tensor):
    if tensor is None:
        return "float32"
    if "scale" in tensor:
        return (
            f"{tensor['dtype']} (scale {tensor['scale']:.6g}, zero "
            f"point {tensor['zero_point']})"
        )
    return tensor["dtype"]


def _number(value):
    return "n/a" if value is None else f"{value:.2f}"


def _python(artifact, shape):
    quant_in = quant_out = ""
    if "scale" in artifact["input"]:
        quant_in = (
            "\n# int8 input: q = round(x / scale) + zero_point\n"
            'scale, zero = inp["quantization"]\n'
            "x = np.clip(np.round(x / scale) + zero, -128, 127)"
            ".astype(np.int8)"
        )
    if "scale" in artifact["output"]:
        quant_out = (
            '\nscale, zero = out["quantization"]\n'
            "y = (y.astype(np.float32) - zero) * scale"
        )
    return _PYTHON.format(
        file=artifact["file"],
        shape=tuple(shape),
        quant_in=quant_in,
        quant_out=quant_out,
    )


def _kotlin(artifact, shape):
    elements = 1
    for d in shape:
        elements *= d
    tin, tout = artifact["input"], artifact["output"]
    int8_in = tin["dtype"] == "int8"
    desc = (
        f"int8 image: q = round(x / {tin['scale']:.6g}) + {tin['zero_point']}"
        if int8_in
        else "float32 image in [0, 1]"
    )
    classes = tout["shape"][-1]
    output_alloc = (
        f"Array(1) {{ ByteArray({classes}) }}"
        if tout["dtype"] == "int8"
        else f"Array(1) {{ FloatArray({classes}) }}"
    )
    return _KOTLIN.format(
        file=artifact["file"],
        input_bytes=elements * (1 if int8_in else 4),
        input_desc=desc,
        output_alloc=output_alloc,
    )
