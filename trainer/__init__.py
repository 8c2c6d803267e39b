"""swapcam's trainer: extract facesets from footage and train the two-decoder autoencoder (see the README)."""
