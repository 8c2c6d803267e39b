"""The shared core every part of swapcam uses: errors, the messages between stages, face geometry (landmarks,
tracking, alignment, masks, pose), media I/O (decode, encode, images, provenance), the model format and the
inference engines. Nothing here imports the runtime (``swapcam.live``), the trainer, the exporter or the CLI."""
