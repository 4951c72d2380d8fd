"""Importing this module imports TensorFlow with its native start-up log
lines kept off stderr (`kd_toolkit.console.native_logs`); `kd_toolkit`
imports it before anything else."""

from kd_toolkit.console import native_logs

native_logs.import_tensorflow()
