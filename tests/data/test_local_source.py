import os

import pytest

from kd_toolkit.data import local_source
from tests.data.fakes import DEBIAN_FASHION_MNIST
from tests.data.fakes import write_cifar


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for name in ("fashion_mnist", "mnist", "cifar10", "cifar100"):
        monkeypatch.delenv(local_source.env_var(name), raising=False)


def test_env_var_names():
    assert local_source.env_var("fashion_mnist") == (
        "KD_TOOLKIT_FASHION_MNIST_DIR"
    )
    assert local_source.env_var("cifar10") == "KD_TOOLKIT_CIFAR10_DIR"


def test_lookup_order(monkeypatch, tmp_path):
    assert local_source.candidate_path("fashion_mnist") == DEBIAN_FASHION_MNIST
    assert local_source.candidate_path("cifar10") is None
    monkeypatch.setenv("KD_TOOLKIT_FASHION_MNIST_DIR", "/from/env")
    assert local_source.candidate_path("fashion_mnist") == "/from/env"
    assert local_source.candidate_path("fashion_mnist", tmp_path) == str(
        tmp_path
    )


def test_find_idx(idx_dir, tmp_path):
    folder, _ = idx_dir
    assert local_source.find("fashion_mnist", folder) == folder
    assert local_source.find("mnist", folder) == folder
    assert local_source.find("fashion_mnist", tmp_path / "empty") is None
    assert local_source.find("mnist") is None  # MNIST has no default.


def test_find_idx_from_env(monkeypatch, idx_dir):
    folder, _ = idx_dir
    monkeypatch.setenv("KD_TOOLKIT_MNIST_DIR", folder)
    assert local_source.find("mnist") == folder


def test_incomplete_idx_folder_is_an_error(idx_dir):
    folder, _ = idx_dir
    os.remove(os.path.join(folder, "train-images-idx3-ubyte.gz"))
    with pytest.raises(FileNotFoundError, match="Incomplete fashion_mnist"):
        local_source.find("fashion_mnist", folder)


def test_find_cifar_from_env(monkeypatch, tmp_path):
    path, _ = write_cifar(str(tmp_path), "cifar100")
    assert local_source.find("cifar100") is None
    monkeypatch.setenv("KD_TOOLKIT_CIFAR100_DIR", str(tmp_path))
    assert local_source.find("cifar100") == path


@pytest.mark.parametrize(
    "name, hint",
    [
        ("fashion_mnist", "sudo apt-get install dataset-fashion-mnist"),
        ("mnist", "KD_TOOLKIT_MNIST_DIR"),
        ("cifar10", "cifar-10-python.tar.gz"),
        ("cifar100", "cifar-100-python"),
    ],
)
def test_how_to_get(name, hint):
    assert hint in local_source.how_to_get(name)
