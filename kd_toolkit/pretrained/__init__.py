"""Small trained models shipped with kd_toolkit (see `registry`)."""

from kd_toolkit.pretrained.shipped import info
from kd_toolkit.pretrained.shipped import load
from kd_toolkit.pretrained.shipped import names
from kd_toolkit.pretrained.shipped import path

__all__ = ["info", "load", "names", "path"]
