"""What kd_toolkit lets through to the console: TensorFlow's native log
lines are kept off stderr (`native_logs`). Free of TensorFlow imports, so
that it can run before TensorFlow is imported."""
