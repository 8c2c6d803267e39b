"""The face-swap autoencoder, in two layouts (``ModelArgs.arch``):

- ``df``: one shared encoder (convolutions, dense bottleneck, one upscale), one decoder per person (faceswap's
  "Original", DeepFaceLab's SAEHD "DF"). Swapping runs person A's face through the encoder and B's decoder.
- ``liae``: DeepFaceLab's LIAE. Shared convolutions, then two dense "intermediate" codes: ``inter_ab`` (shared by
  both people) and ``inter_a`` (person A's own), and ONE shared decoder. B's faces are decoded from
  ``[inter_ab, inter_ab]``, A's from ``[inter_a, inter_ab]``; the swap A -> B decodes A's face from
  ``[inter_ab, inter_ab]``. Pose and expression travel through the shared code and one decoder that has seen both
  people's expressions, which is why LIAE follows the mouth and the head turn better than two decoders (issue 15).

Each decoder outputs RGB and a mask channel (the face region it painted), both in [0, 1].

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
    arch: str = "df"  # "df": a decoder per person; "liae": shared + per-person intermediate code, one decoder

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelArgs:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# Presets by name. `fast` is built for the live loop on CPUs (int8 ONNX Runtime p50 <= 3 ms a 128 px face on 2
# threads, benchmarks/bench_engines.py). `fast-v1` is the `fast` of before issue 15 under a fixed name, so the
# comparison stays reproducible if `fast` changes (a checkpoint stores its ModelArgs, so old runs load whatever the
# names say). Issue 15's screening (benchmarks/results/train_variants.json) found no variant clearly better than it
# for the same CPU time, so `fast` is still the same network. `fast-liae` is DeepFaceLab's LIAE layout at the same
# widths: as good or slightly better held-out SSIM for the same CPU minutes in that screening, 1.2x the int8 cost.
# `quality` is for people with a GPU: more resolution and width. `tiny` (64 px) exists for tests and quick smoke
# runs; `tiny-liae` is its LIAE twin for the same purpose.
PRESETS: dict[str, ModelArgs] = {
    "fast": ModelArgs(),
    "fast-v1": ModelArgs(),
    "fast-liae": ModelArgs(arch="liae"),
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
    "tiny-liae": ModelArgs(
        resolution=64, encoder_channels=(16, 32, 64, 128), bottleneck=64, inter_channels=64,
        decoder_channels=(32, 16, 8), arch="liae",
    ),  # fmt: skip
}
ARCHS = ("df", "liae")


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


def _convs(a: ModelArgs) -> nn.Sequential:
    """(N, 3, R, R) -> (N, encoder_channels[-1], R/2^k, R/2^k): one stride-2 conv per entry."""
    layers: list[nn.Module] = []
    cin = 3
    for i, cout in enumerate(a.encoder_channels):
        k = 5 if i == 0 else 3  # a wide first look at the pixels; 3x3 after that keeps the CPU cost low
        layers += [nn.Conv2d(cin, cout, k, stride=2, padding=k // 2), _act()]
        cin = cout
    return nn.Sequential(*layers)


class Inter(nn.Module):
    """(N, C, p, p) features -> dense bottleneck -> (N, inter_channels, 2p, 2p)."""

    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        self._build(a)

    def _build(self, a: ModelArgs) -> None:
        self.code_px = a.resolution >> len(a.encoder_channels)
        self.code_ch = a.encoder_channels[-1]
        self.dense = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.code_ch * self.code_px**2, a.bottleneck),
            nn.Linear(a.bottleneck, self.code_ch * self.code_px**2),
        )
        self.up = Upscale(self.code_ch, a.inter_channels)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.up(self.dense(f).view(-1, self.code_ch, self.code_px, self.code_px))


class Encoder(Inter):
    """(N, 3, R, R) -> (N, inter_channels, R/8, R/8): convolutions, a dense bottleneck, one upscale. Shared (df).
    Parameter names and order (convs, dense, up) are those of every checkpoint written before issue 15, so old
    optimiser states resume."""

    def __init__(self, a: ModelArgs) -> None:
        nn.Module.__init__(self)
        self.convs = _convs(a)
        self._build(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.convs(x))


class Decoder(nn.Module):
    """(N, inter_channels, R/16 * 2, ...) -> (N, 4, R, R): upscales, residual blocks, RGB + mask."""

    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = a.inter_channels * (2 if a.arch == "liae" else 1)  # liae decodes [inter_a or inter_ab, inter_ab]
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
    """``forward(x, side)``: side 0 decodes as person A (``--from``), side 1 as person B (``--to``).

    df: ``encoder`` and ``decoders`` (one per person). liae: ``convs``, ``inters`` (0: inter_a, 1: inter_ab) and
    ``decoders`` (one, shared)."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        code = args.resolution >> len(args.encoder_channels)  # the encoder halves the size per conv
        if code < 2 or code << len(args.encoder_channels) != args.resolution or (
            code << (1 + len(args.decoder_channels)) != args.resolution  # one upscale shared, one per stage
        ):
            raise ValueError(f"resolution {args.resolution} does not fit the encoder/decoder depths")
        if args.arch not in ARCHS:
            raise ValueError(f"unknown architecture {args.arch!r}; one of {', '.join(ARCHS)}")
        self.liae = args.arch == "liae"
        if self.liae:
            self.convs = _convs(args)
            self.inters = nn.ModuleList([Inter(args), Inter(args)])  # inter_a, inter_ab
            self.decoders = nn.ModuleList([Decoder(args)])
        else:
            self.encoder = Encoder(args)
            self.decoders = nn.ModuleList([Decoder(args), Decoder(args)])

    def code(self, x: torch.Tensor, side: int) -> torch.Tensor:
        """The decoder input for rendering ``x`` as person ``side``."""
        if not self.liae:
            return self.encoder(x)
        f = self.convs(x)
        ab = self.inters[1](f)
        return torch.cat([self.inters[0](f) if side == 0 else ab, ab], dim=1)

    def decoder(self, side: int) -> nn.Module:
        return self.decoders[0 if self.liae else side]

    def forward(self, x: torch.Tensor, side: int) -> torch.Tensor:
        return self.decoder(side)(self.code(x, side))


class SwapDirection(nn.Module):
    """The exported graph: encoder plus one decoder (A -> B by default), a plain ``forward(x)``."""

    def __init__(self, model: SwapAutoencoder, side: int) -> None:
        super().__init__()
        self.model = model
        self.side = side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.side)


class TrainPair(nn.Module):
    """One forward for both people, so every parameter takes part in every step (what DistributedDataParallel
    expects): the encoder sees A and B as one batch, each decoder its own person."""

    def __init__(self, model: SwapAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # channels-last: oneDNN's convolutions run about 10% faster on CPUs this way (measured on 2 cores)
        x = torch.cat([xa, xb]).contiguous(memory_format=torch.channels_last)
        m, n = self.model, len(xa)
        if not m.liae:
            z = m.encoder(x)
            return m.decoders[0](z[:n]), m.decoders[1](z[n:])
        f = m.convs(x)
        ab = m.inters[1](f)
        own = m.inters[0](f[:n])  # inter_a sees A's faces only
        z = torch.cat([torch.cat([own, ab[:n]], 1), torch.cat([ab[n:], ab[n:]], 1)])
        out = m.decoders[0](z)  # one decoder, one pass for both people
        return out[:n], out[n:]
