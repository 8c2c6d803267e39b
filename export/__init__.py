"""swapcam's exporter: turn a training checkpoint into a self-describing ONNX model (see the README)."""
