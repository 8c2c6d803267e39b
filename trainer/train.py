"""``swapcam train``: the training loop, readable top to bottom in ``main(config)``.

set-up (processes, device, threads) -> data (two facesets in memory) -> model and optimiser (fresh or resumed)
-> one loop (batch, augment, loss, step; metrics, previews, checkpoints) -> final checkpoint.

Every batch is a pure function of (seed, rank, step), and the learning rate a pure function of the step, so a run
resumed from a checkpoint continues exactly as if it had never stopped. Under ``torchrun`` the same command trains
with DistributedDataParallel (gloo on CPU, nccl on GPU); rank 0 writes everything.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import write_image
from swapcam.trainer.augment import color_jitter, match_colors, random_affine, random_warp
from swapcam.trainer.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from swapcam.trainer.coverage import write_run_coverage
from swapcam.trainer.data import Side, load_side
from swapcam.trainer.losses import LossWeights, masked_ssim, swap_loss
from swapcam.trainer.model import PRESETS, ModelArgs, SwapAutoencoder, TrainPair
from swapcam.trainer.preview import preview_grid, to_uint8

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "swapcam-checkpoint/1"
LR_SCHEDULES = ("constant", "cosine")
# (rotation degrees, zoom, shift as a fraction of the crop side): each drawn uniformly within +-.
# "live" is the worst clip's 99th percentile of how the live crop (landmarks after the One Euro filter) differs
# from the training crop (raw landmarks) on the sample clips, rounded up: benchmarks/bench_live_crop.py,
# results/live_crop.json (1.34 deg, 1.9 %, 1.1 % / 1.5 %).
AFFINE_RANGES: dict[str, tuple[float, float, float]] = {"classic": (10.0, 0.05, 0.05), "live": (1.5, 0.02, 0.015)}


@dataclass(frozen=True)
class TrainConfig:
    faceset_a: str  # --from: the face the camera will see
    faceset_b: str  # --to: the face to render
    run_dir: str
    preset: str = "fast"
    minutes: float | None = None  # train this long in this invocation ...
    steps: int | None = None  # ... or until the global step reaches this; neither: until Ctrl-C
    batch_size: int = 16  # faces per person per step (per process under torchrun)
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    # The recipe fields below left at None take the preset's recipe (RECIPES), else RECIPE_DEFAULTS.
    # After warm-up: "constant", or "cosine" down to lr * lr_final at lr_decay_steps, then held there. A function
    # of the step alone (not of the clock), so resuming stays exact.
    lr_schedule: str | None = None
    lr_decay_steps: int | None = None
    lr_final: float = 0.1
    balance: float | None = None  # sampling balanced over yaw and mouth opening (0 uniform .. 1 flat; data.py)
    amp: bool = True  # float16 autocast on CUDA (off: float32 everywhere, as on CPUs)
    grad_clip: float = 1.0
    eval_every: int = 100  # steps between held-out SSIM measurements (metrics.jsonl)
    preview_every: int = 250  # steps between preview grids
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 3
    holdout: float = 0.05  # share of each faceset never trained on
    seed: int = 0
    warp: float = 1.0  # random-warp strength (0 disables)
    # The similarity transform applied alike to input and target (AFFINE_RANGES): "classic" (faceswap's +-10 deg,
    # 5 % zoom and shift) or "live" (the spread the live loop's crop actually has around the training crop).
    affine: str | None = None
    flip: float | None = None  # probability of a horizontal flip
    color_jitter: float = 1.0  # colour augmentation strength (0 disables)
    swap_colors: float = 0.0  # probability of giving a face the colours of a face of the other set
    max_faces: int | None = None  # cap on faces loaded per faceset
    threads: int | None = None  # torch threads per process (default: cores / processes)
    device: str = "auto"  # auto, cpu or cuda
    resume: bool = False
    loss: LossWeights | None = None


# Training recipes by preset (issue 15). Presets not named here train as every preset did before issue 15
# (`fast-v1` among them, for comparisons). The first screening found no change among the cosine schedule,
# multi-scale DSSIM + edge term + mouth x3 and balanced sampling clearly better for the same CPU time; each stays a
# TrainConfig field to set. The live-crop augmentation did beat it clearly (held-out SSIM +0.10 at step 200, README
# "Training variants"; 30 minutes: +0.067 / +0.058), so `fast` trains with it, and `fast-liae` too (not measured).
RECIPE_DEFAULTS: dict = {"lr_schedule": "constant", "lr_decay_steps": 3000, "balance": 0.0, "loss": LossWeights(),
                         "affine": "classic", "flip": 0.5}
RECIPES: dict[str, dict] = {"fast": {"affine": "live"}, "fast-liae": {"affine": "live"}}


def resolve_recipe(config: TrainConfig, preset: str) -> TrainConfig:
    """``config`` with every recipe field left at None set from the preset's recipe or the defaults."""
    recipe = {**RECIPE_DEFAULTS, **RECIPES.get(preset, {})}
    return replace(config, **{k: v for k, v in recipe.items() if getattr(config, k) is None})


@dataclass(frozen=True)
class TrainResult:
    step: int
    checkpoint: Path | None  # written by rank 0 only
    metrics: dict  # the last metrics.jsonl record
    interrupted: bool
    model: SwapAutoencoder  # this process's copy, in eval mode


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_processes(config: TrainConfig) -> tuple[Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dist = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if config.device == "cuda" and not torch.cuda.is_available():
        raise SwapcamError("--device cuda asked for, but PyTorch sees no CUDA GPU")
    device = torch.device(f"cuda:{dist.local_rank}" if use_cuda else "cpu")
    if world > 1:
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    torch.set_num_threads(config.threads or max(1, (os.cpu_count() or 1) // local_world))
    return dist, device


def batch_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The random source of one step: the same (seed, rank, step) always gives the same batch and augmentation."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def learning_rate(config: TrainConfig, step: int) -> float:
    warm = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    if config.lr_schedule in (None, "constant") or step < config.warmup_steps:
        return config.lr * warm
    decay = config.lr_decay_steps or RECIPE_DEFAULTS["lr_decay_steps"]
    t = min(1.0, (step - config.warmup_steps) / max(decay - config.warmup_steps, 1))
    return config.lr * (config.lr_final + (1 - config.lr_final) * 0.5 * (1 + math.cos(math.pi * t)))


def _augmented(side: Side, other: Side, config: TrainConfig, gen: torch.Generator, device: torch.device):
    """(warped input, straight target, mask, region codes) for one person's half of a batch."""
    x, m, r = side.batch(side.pick(config.batch_size, gen), device)
    if config.swap_colors > 0:
        ref = other.train_idx[torch.randint(len(other.train_idx), (config.batch_size,), generator=gen)]
        rx, rm, _ = other.batch(ref, device)
        use = (torch.rand(config.batch_size, generator=gen) < config.swap_colors).to(device).view(-1, 1, 1, 1)
        x = torch.where(use, match_colors(x, m, rx, rm), x)
    rotate, zoom, shift = AFFINE_RANGES[config.affine]
    x, m, r = random_affine([x, m, r], gen, rotate_deg=rotate, zoom=zoom, shift=shift, flip=config.flip,
                            nearest=(False, False, True))  # fmt: skip
    if config.color_jitter > 0:
        (x,) = color_jitter([x], gen, strength=config.color_jitter)
    warped = random_warp(x, gen, strength=config.warp) if config.warp > 0 else x
    return warped, x, m, r


@dataclass
class StepState:
    """What one training step needs besides the data: the model (wrapped for both sides), its optimiser, the AMP
    loss scaler and the autocast precision."""

    model: SwapAutoencoder
    pair: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    amp: bool = False
    amp_dtype: torch.dtype = torch.float16


def train_step(state: StepState, a: Side, b: Side, config: TrainConfig, step: int, device: torch.device,
               rank: int = 0) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One optimiser step on a batch of each person (the batch and its augmentation fixed by seed, rank and step):
    returns the two sides' losses. The trainer and benchmarks/gpu_check.py both run exactly this."""
    gen = batch_generator(config.seed, rank, step)
    for group in state.optimizer.param_groups:
        group["lr"] = learning_rate(config, step)
    in_a, tgt_a, m_a, r_a = _augmented(a, b, config, gen, device)
    in_b, tgt_b, m_b, r_b = _augmented(b, a, config, gen, device)
    with torch.autocast(device.type, dtype=state.amp_dtype, enabled=state.amp):
        pred_a, pred_b = state.pair(in_a, in_b)
        loss_a = swap_loss(pred_a.float(), tgt_a, m_a, r_a, config.loss)
        loss_b = swap_loss(pred_b.float(), tgt_b, m_b, r_b, config.loss)
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss_a + loss_b).backward()
    state.scaler.unscale_(state.optimizer)
    torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    return loss_a, loss_b


@torch.no_grad()
def evaluate(model: SwapAutoencoder, a: Side, b: Side, device: torch.device, limit: int = 64) -> dict[str, float]:
    """Held-out masked SSIM of each person's reconstruction through their own decoder."""
    model.eval()
    out = {}
    for key, side, dec in (("ssim_a", a, 0), ("ssim_b", b, 1)):
        x, m, _ = side.batch(side.holdout_idx[:limit], device)
        out[key] = round(float(masked_ssim(model(x, dec)[:, :3], x, m).mean()), 4)
    model.train()
    return out


@torch.no_grad()
def write_preview(model: SwapAutoencoder, a: Side, b: Side, device: torch.device, path: Path, label: str) -> None:
    model.eval()
    xa, _, _ = a.batch(a.holdout_idx[:6], device)
    xb, _, _ = b.batch(b.holdout_idx[:6], device)
    k = min(len(xa), len(xb))
    xa, xb = xa[:k], xb[:k]
    rows = [xa, model(xa, 0)[:, :3], model(xa, 1)[:, :3], xb, model(xb, 1)[:, :3]]
    grid = preview_grid([to_uint8(t) for t in rows], label=label)
    write_image(path, grid, synthetic=True)  # A->B faces are synthetic: the PNG says so
    write_image(path.parent / "latest.png", grid, synthetic=True)
    model.train()


def _labels(config: TrainConfig) -> dict[str, str]:
    return {"a": Path(config.faceset_a).resolve().name, "b": Path(config.faceset_b).resolve().name}


def main(config: TrainConfig) -> TrainResult:
    # --- set-up ---------------------------------------------------------------------------------------------
    dist, device = _setup_processes(config)
    run = Path(config.run_dir)
    state = None
    if config.resume:
        if latest_checkpoint(run) is None:
            raise SwapcamError(f"nothing to resume: no checkpoint in {run / 'checkpoints'}")
        state = load_checkpoint(run)
    elif latest_checkpoint(run) is not None:
        raise SwapcamError(f"{run} already holds checkpoints: add --resume to continue, or choose a new folder")
    if state is None and config.preset not in PRESETS:
        raise SwapcamError(f"unknown preset {config.preset!r}; choose one of {', '.join(PRESETS)}")
    args = ModelArgs.from_dict(state["model_args"]) if state else PRESETS[config.preset]
    preset = state["preset"] if state else config.preset
    config = resolve_recipe(config, preset)
    if config.affine not in AFFINE_RANGES:
        raise SwapcamError(f"unknown augmentation {config.affine!r}; one of {', '.join(AFFINE_RANGES)}")
    if config.lr_schedule not in LR_SCHEDULES:
        raise SwapcamError(f"unknown learning-rate schedule {config.lr_schedule!r}; one of {', '.join(LR_SCHEDULES)}")
    if dist.main:  # how A and B cover yaw, pitch and mouth opening; warns where B lacks what A has (issue 15)
        write_run_coverage(config.faceset_a, config.faceset_b, run)

    # --- data -----------------------------------------------------------------------------------------------
    a, spec = load_side(config.faceset_a, args.resolution, holdout=config.holdout, seed=config.seed,
                        max_faces=config.max_faces, balance=config.balance)  # fmt: skip
    b, spec_b = load_side(config.faceset_b, args.resolution, holdout=config.holdout, seed=config.seed,
                          max_faces=config.max_faces, balance=config.balance)  # fmt: skip
    if spec != spec_b:
        raise SwapcamError(f"the facesets were aligned differently ({spec} vs {spec_b}): extract both alike")

    # --- model and optimiser --------------------------------------------------------------------------------
    torch.manual_seed(config.seed)
    model = SwapAutoencoder(args).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    use_amp = device.type == "cuda" and config.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    step, samples, elapsed_before = 0, 0, 0.0
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if use_amp and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step, samples, elapsed_before = state["step"], state["samples"], state["elapsed_s"]
        torch.set_rng_state(state["rng"])
    pair = TrainPair(model)
    if dist.world > 1:
        pair = torch.nn.parallel.DistributedDataParallel(pair, device_ids=[device.index] if use_amp else None)
    stepper = StepState(model, pair, optimizer, scaler, use_amp)

    def checkpoint() -> Path | None:
        if not dist.main:
            return None
        return save_checkpoint(run, {
            "format": CHECKPOINT_FORMAT, "step": step, "samples": samples,
            "elapsed_s": elapsed_before + time.monotonic() - t_start, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if use_amp else None,
            "model_args": args.to_dict(), "preset": preset, "config": asdict(config), "align": spec.to_metadata(),
            "identities": _labels(config), "rng": torch.get_rng_state(),
        }, keep=config.keep_checkpoints)  # fmt: skip

    # --- the loop -------------------------------------------------------------------------------------------
    if dist.main:
        (run / "previews").mkdir(parents=True, exist_ok=True)
        metrics_file = open(run / "metrics.jsonl", "a", encoding="utf-8")
    t_start = time.monotonic()
    next_checkpoint = t_start + config.checkpoint_minutes * 60
    deadline = t_start + config.minutes * 60 if config.minutes is not None else None
    last = {"step": step}
    interrupted = False
    window_t, window_samples = time.monotonic(), 0
    bar = _progress_bar(config, step, enabled=dist.main)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while config.steps is None or step < config.steps:
            loss_a, loss_b = train_step(stepper, a, b, config, step, device, dist.rank)
            loss = loss_a + loss_b
            step += 1
            samples += 2 * config.batch_size * dist.world
            window_samples += 2 * config.batch_size * dist.world

            now = time.monotonic()
            if dist.main and (step % config.eval_every == 0 or step == config.steps):
                rate = window_samples / max(now - window_t, 1e-9)
                window_t, window_samples = now, 0
                last = {
                    "step": step, "elapsed_s": round(elapsed_before + now - t_start, 1), "samples": samples,
                    "samples_per_s": round(rate, 1), "loss": round(loss.item(), 5),
                    "loss_a": round(loss_a.item(), 5), "loss_b": round(loss_b.item(), 5),
                    "lr": learning_rate(config, step - 1), **evaluate(model, a, b, device),
                }  # fmt: skip
                metrics_file.write(json.dumps(last) + "\n")
                metrics_file.flush()
            if dist.main and step % config.preview_every == 0:
                write_preview(model, a, b, device, run / "previews" / f"step-{step:09d}.png", f"step {step}")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", **{"samples/s": last.get("samples_per_s", "-")})
            # Rank 0 decides when to checkpoint or stop, so all processes agree.
            flags = torch.tensor([now >= next_checkpoint, deadline is not None and now >= deadline])
            if dist.world > 1:
                torch.distributed.broadcast(flags, 0)
            if flags[0]:
                checkpoint()
                next_checkpoint = now + config.checkpoint_minutes * 60
            if flags[1]:
                break
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted at step %d: saving a checkpoint", step)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if bar is not None:
            bar.close()
    path = checkpoint()
    if dist.main:
        write_preview(model, a, b, device, run / "previews" / f"step-{step:09d}.png", f"step {step}")
        metrics_file.close()
    if dist.world > 1 and not interrupted:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return TrainResult(step, path, last, interrupted, model.eval())


def _raise_interrupt(signum, frame) -> None:  # SIGTERM behaves like Ctrl-C: checkpoint, then stop
    raise KeyboardInterrupt


def _progress_bar(config: TrainConfig, step: int, *, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=config.steps, initial=step, unit="step", desc="train", disable=None, dynamic_ncols=True)
