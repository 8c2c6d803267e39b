"""The face-swap autoencoder: one shared encoder, one decoder per person (faceswap's "Original", DeepFaceLab's SAEHD).

Training reconstructs each person through their own decoder; swapping runs person A's face through the encoder and
person B's decoder. Each decoder outputs RGB and a mask channel (the face region it painted), both in [0, 1].

Tensors: input (N, 3, R, R) float32 RGB in [0, 1]; output (N, 4, R, R) float32, channels RGB + mask, in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelArgs:
    """Everything needed to rebuild the network; stored in every checkpoint and in the exported model."""

    resolution: int = 128
    encoder_channels: tuple[int, ...] = (32, 64, 128, 256)  # one stride-2 conv each: 128 -> 8 px
    bottleneck: int = 256  # width of the dense code shared by both people
    inter_channels: int = 128  # channels of the shared code after its first upscale (at resolution / 8)
    decoder_channels: tuple[int, ...] = (64, 32, 16)  # one x2 upscale each, then the output conv
    residual_blocks: int = 0  # per decoder stage except the last (full resolution is too costly on CPUs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelArgs:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# Presets by name. `fast` is built for the live loop on CPUs: one 128 px face through ONNX Runtime in about 6 ms
# on 2 cores (goal <= 8 ms; benchmarks/bench_train.py). `quality` is for people with a GPU: more resolution and
# width. `tiny` (64 px) exists for tests and quick smoke runs; its swaps are not worth looking at.
PRESETS: dict[str, ModelArgs] = {
    "fast": ModelArgs(),
    "quality": ModelArgs(
        resolution=256,
        encoder_channels=(64, 128, 256, 512, 512),
        bottleneck=512,
        inter_channels=512,
        decoder_channels=(384, 192, 96, 48),
        residual_blocks=1,
    ),
    "tiny": ModelArgs(
        resolution=64, encoder_channels=(16, 32, 64, 128), bottleneck=64, inter_channels=64,
        decoder_channels=(32, 16, 8),
    ),  # fmt: skip
}


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Upscale(nn.Sequential):
    """x2 upscale by sub-pixel convolution (conv to 4x channels, then pixel shuffle): no checkerboard artefacts."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), _act(), nn.PixelShuffle(2))


class Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), _act(), nn.Conv2d(ch, ch, 3, padding=1))
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class Encoder(nn.Module):
    """(N, 3, R, R) -> (N, inter_channels, R/8, R/8): convolutions, a dense bottleneck, one upscale. Shared."""

    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(a.encoder_channels):
            k = 5 if i == 0 else 3  # a wide first look at the pixels; 3x3 after that keeps the CPU cost low
            layers += [nn.Conv2d(cin, cout, k, stride=2, padding=k // 2), _act()]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.code_px = a.resolution >> len(a.encoder_channels)
        self.code_ch = cin
        self.dense = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * self.code_px**2, a.bottleneck),
            nn.Linear(a.bottleneck, cin * self.code_px**2),
        )
        self.up = Upscale(cin, a.inter_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.dense(self.convs(x))
        return self.up(z.view(-1, self.code_ch, self.code_px, self.code_px))


class Decoder(nn.Module):
    """(N, inter_channels, R/16 * 2, ...) -> (N, 4, R, R): upscales, residual blocks, RGB + mask."""

    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = a.inter_channels
        for i, cout in enumerate(a.decoder_channels):
            layers.append(Upscale(cin, cout))
            if i < len(a.decoder_channels) - 1:
                layers += [Residual(cout) for _ in range(a.residual_blocks)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(cin, 4, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.body(z)))


class SwapAutoencoder(nn.Module):
    """``forward(x, side)``: side 0 decodes as person A (``--from``), side 1 as person B (``--to``)."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        code = args.resolution >> len(args.encoder_channels)  # the encoder halves the size per conv
        if code < 2 or code << len(args.encoder_channels) != args.resolution or (
            code << (1 + len(args.decoder_channels)) != args.resolution  # one upscale shared, one per stage
        ):
            raise ValueError(f"resolution {args.resolution} does not fit the encoder/decoder depths")
        self.encoder = Encoder(args)
        self.decoders = nn.ModuleList([Decoder(args), Decoder(args)])

    def forward(self, x: torch.Tensor, side: int) -> torch.Tensor:
        return self.decoders[side](self.encoder(x))


class SwapDirection(nn.Module):
    """The exported graph: encoder plus one decoder (A -> B by default), a plain ``forward(x)``."""

    def __init__(self, model: SwapAutoencoder, side: int) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.decoder = model.decoders[side]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class TrainPair(nn.Module):
    """One forward for both people, so every parameter takes part in every step (what DistributedDataParallel
    expects): the encoder sees A and B as one batch, each decoder its own person."""

    def __init__(self, model: SwapAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # channels-last: oneDNN's convolutions run about 10% faster on CPUs this way (measured on 2 cores)
        z = self.model.encoder(torch.cat([xa, xb]).contiguous(memory_format=torch.channels_last))
        za, zb = z[: len(xa)], z[len(xa) :]
        return self.model.decoders[0](za), self.model.decoders[1](zb)
