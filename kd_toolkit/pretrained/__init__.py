"""Small trained models shipped with kd_toolkit (see `registry`)."""

from kd_toolkit.pretrained.registry import info
from kd_toolkit.pretrained.registry import load
from kd_toolkit.pretrained.registry import names
from kd_toolkit.pretrained.registry import path

__all__ = ["info", "load", "names", "path"]
