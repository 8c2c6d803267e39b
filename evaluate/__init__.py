"""Quality evaluation of a face-swap model (``swapcam eval``): identity, pose, expression, background, jitter."""
