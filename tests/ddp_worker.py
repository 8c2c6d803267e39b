"""Run under torchrun by tests/test_train.py: trains a few steps, then saves this rank's parameters."""

import os
import sys

import torch

from swapcam.trainer.train import TrainConfig, main

if __name__ == "__main__":
    fa, fb, run, out = sys.argv[1:5]
    result = main(
        TrainConfig(fa, fb, run, preset="tiny", steps=4, batch_size=2, max_faces=24, eval_every=2, preview_every=100)
    )
    rank = int(os.environ["RANK"])
    torch.save({k: v.detach().clone() for k, v in result.model.state_dict().items()}, f"{out}/rank{rank}.pt")
