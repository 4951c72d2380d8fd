"""Packaging of kd_toolkit."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent
VERSION = {}
exec((HERE / "kd_toolkit" / "version.py").read_text(), VERSION)

EXPORT = [
    "ai-edge-litert>=1.2,<3",
    "tf2onnx>=1.16,<2",
    "onnx>=1.16,<2",
    "onnxruntime>=1.18,<2",
    # The TensorFlow Lite Micro interpreter (microcontroller fit); only
    # nightly builds are published, hence the pre-release specifier.
    "tflite-micro>=0.dev0",
]
COMPRESS = [
    "tensorflow-model-optimization>=0.8,<0.9",
    "tf-keras>=2.16,<2.22",
]
BENCHMARK = ["matplotlib>=3.7,<4", "scipy>=1.10,<2"]
# The suite also runs the notebooks (nbclient, ipykernel) and checks the
# code format (ruff).
TEST = [
    "pytest>=7,<10",
    "pytest-xdist>=3.5,<4",
    "nbclient>=0.10,<1",
    "nbformat>=5.9,<6",
    "ipykernel>=6.29,<8",
    "ruff>=0.6,<1",
]

setuptools.setup(
    name="kd_toolkit",
    version=VERSION["__version__"],
    description=(
        "Knowledge distillation, activation map adaptation, export and "
        "compression for Keras 3 students."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8")
    if (HERE / "README.md").exists()
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=setuptools.find_packages(include=["kd_toolkit", "kd_toolkit.*"]),
    # The shipped models and their provenance records.
    package_data={"kd_toolkit.pretrained": ["*.keras", "*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.10,<4",
        "tensorflow-datasets>=4.9,<5",
        # tensorflow-datasets needs it to prepare data (download=True).
        "importlib_resources>=5",
        "absl-py>=1.0,<3",
        "numpy>=1.26,<3",
    ],
    extras_require={
        "export": EXPORT,
        "compress": COMPRESS,
        "benchmark": BENCHMARK,
        "test": TEST,
        "all": EXPORT + COMPRESS + BENCHMARK + TEST,
    },
    entry_points={
        "console_scripts": [
            "kd-train=kd_toolkit.cli.train:run",
            "kd-export=kd_toolkit.cli.export:run",
            "kd-compress=kd_toolkit.cli.compress:run",
            "kd-search=kd_toolkit.cli.search:run",
        ],
    },
)
