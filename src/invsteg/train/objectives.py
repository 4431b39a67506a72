"""What a model is trained to do, one objective per task of the registry.

An objective is a module that owns the model and turns a list of image batches into a
loss: its ``forward`` is the whole training pass, so DistributedDataParallel (which only
hooks ``forward``) can wrap it. ``validate`` measures the same task after 8-bit rounding
and ``score`` ranks validations (higher is better) for exporting the best weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from invsteg.eval.metrics import psnr, rgb_to_y, ssim
from invsteg.ops.attacks import AttackConfig, AttackMixer, gaussian_noise, jpeg_approx
from invsteg.ops.color import lab_to_rgb, rgb_to_lab
from invsteg.ops.quantize import round_8bit
from invsteg.ops.wavelets import haar_dwt
from invsteg.train.config import TrainConfig
from invsteg.train.losses import chroma, low_frequency, mse_255, peak_amplitudes, spectral_peaks

Terms = dict[str, Tensor]


def _weighted(terms: Terms, config: TrainConfig) -> Tensor:
    return sum(getattr(config.loss, name) * value for name, value in terms.items())


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _visibility_terms(stego: Tensor, cover: Tensor, config: TrainConfig) -> Terms:
    """The optional penalties on a visible change, only those with a weight (they cost an FFT)."""
    terms = {}
    if config.loss.pattern > 0:
        terms["pattern"] = spectral_peaks(stego - cover)
    if config.loss.chroma > 0:
        terms["chroma"] = chroma(stego - cover)
    return terms


def _visibility(stego: Tensor, cover: Tensor) -> dict[str, list[float]]:
    """Per image: the strongest sinusoid of the rounded change (levels) and SSIM on luminance."""
    return {
        "pattern": peak_amplitudes(stego - cover, top=1).amax(dim=(1, 2)).tolist(),
        "ssim_y": ssim(rgb_to_y(stego), rgb_to_y(cover)).tolist(),
    }


class HidingObjective(nn.Module):
    """HiNet's objective: hide -> straight-through 8-bit rounding -> reveal. A model with a
    lost-part predictor reveals with its prediction and adds the ``lost`` term (predicted vs
    true lost part), as the robust models do."""

    inputs = 2  # cover, secret

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, images: list[Tensor], step: int) -> tuple[Tensor, Terms]:
        cover, secret = images
        stego, lost = self.model.hide(cover, secret)
        received = round_8bit(stego) if self.config.round_stego else stego
        predicted_lost = self.model.predict_lost(haar_dwt(received))
        (revealed,) = self.model.reveal(received, predicted_lost)
        terms = {
            "guide": mse_255(stego, cover),
            "reconstruction": mse_255(revealed, secret),
            "low_frequency": mse_255(low_frequency(stego), low_frequency(cover)),
        } | _visibility_terms(stego, cover, self.config)
        if self.model.predictor is not None:
            terms["lost"] = mse_255(predicted_lost, lost)
        return _weighted(terms, self.config), terms

    @torch.no_grad()
    def validate(self, model: nn.Module, covers: Tensor, batch: int = 4) -> dict[str, float]:
        """Cover i hides secret i+1; stego rounded to 8 bits; mean PSNRs (RGB) and the
        stego's strongest pattern (levels)."""
        secrets = covers.roll(-1, dims=0)
        stego_psnrs, secret_psnrs, patterns = [], [], []
        for start in range(0, len(covers), batch):
            cover, secret = covers[start : start + batch], secrets[start : start + batch]
            stego = round_8bit(model.hide(cover, secret)[0])
            (revealed,) = model.reveal(stego)
            stego_psnrs += psnr(stego, cover).tolist()
            secret_psnrs += psnr(round_8bit(revealed), secret).tolist()
            patterns += _visibility(stego, cover)["pattern"]
        return {
            "val_stego_psnr": _mean(stego_psnrs),
            "val_secret_psnr": _mean(secret_psnrs),
            "val_worst_secret_psnr": min(secret_psnrs),
            "val_pattern": _mean(patterns),
        }

    @staticmethod
    def score(metrics: dict[str, float]) -> float:
        return metrics["val_stego_psnr"] + 2 * metrics["val_secret_psnr"]


def sample_sign_latents(shape: torch.Size, alpha: float, like: Tensor) -> tuple[Tensor, Tensor]:
    """``(z, signs)``: random signs times ``|N(0, 1)|`` conditioned on ``> alpha``, the
    distribution :func:`invsteg.pipelines.mapper.bits_to_latents` embeds with."""
    signs = torch.randint(0, 2, shape, device=like.device).to(like.dtype) * 2 - 1
    tail = 0.5 * math.erfc(alpha / math.sqrt(2.0))
    u = (1 - torch.rand(shape, device=like.device, dtype=like.dtype)) * tail
    return signs * -torch.special.ndtri(u), signs


class EmbeddingObjective(nn.Module):
    """Steg-cINN: maximum likelihood of ab given L (stage 1); with ``loss.latent_error``,
    ``loss.sign_margin`` or ``loss.gamut`` > 0 also the rounding-aware terms (stage 2):
    latents carrying random signs are decoded into a stego, rounded to 8 bits
    (straight-through) and re-encoded; penalised are the latents' change, every sign that
    comes back within ``config.margin`` of zero or flipped, and every colour outside the
    sRGB gamut (clipping flips most signs)."""

    inputs = 1

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, images: list[Tensor], step: int) -> tuple[Tensor, Terms]:
        (rgb,) = images
        # Uniform dequantisation: an 8-bit image is a cell of colours, not a point.
        dequantised = (rgb + (torch.rand_like(rgb) - 0.5) / 255).clamp(0, 1)
        lab = rgb_to_lab(dequantised)
        terms = {"nll": self.model.nll(lab[:, 1:], lab[:, :1]).mean()}
        weights = self.config.loss
        if weights.latent_error > 0 or weights.sign_margin > 0 or weights.gamut > 0:
            terms |= self._rounding_terms(rgb)
        return _weighted(terms, self.config), terms

    def _rounding_terms(self, rgb: Tensor) -> Terms:
        lab = rgb_to_lab(rgb)
        lightness = lab[:, :1]
        z, signs = sample_sign_latents(self.model.lab_to_latent_shape(rgb.shape), self.config.alpha, rgb)
        stego = lab_to_rgb(torch.cat((lightness, self.model.decode(z, lightness, lab[:, 1:])), dim=1))
        received = rgb_to_lab(round_8bit(stego))
        z_back = self.model.encode(received[:, 1:], received[:, :1])
        return {
            # Through the straight-through rounding, encode(decode(z)) = z has no gradient;
            # what remains is first order in the rounding error, i.e. how strongly the
            # latents react to it, which is what both terms shrink.
            "latent_error": (z_back - z).square().mean(),
            "sign_margin": torch.relu(self.config.margin - signs * z_back).square().mean(),
            "gamut": (torch.relu(stego - 1) + torch.relu(-stego)).mul(255).square().mean(),
        }

    @torch.no_grad()
    def validate(self, model: nn.Module, covers: Tensor, batch: int = 4) -> dict[str, float]:
        """Mean NLL (nats per ab value) and the share of signs that survive the 8-bit PNG."""
        # The same latents at every validation, without touching the training RNG streams
        # (manual_seed alone would reseed the CUDA generators too).
        devices = [covers.device] if covers.device.type == "cuda" else []
        nlls, correct, total = [], 0, 0
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(1234)
            for start in range(0, len(covers), batch):
                rgb = covers[start : start + batch]
                lab = rgb_to_lab(rgb)
                nlls += model.nll(lab[:, 1:], lab[:, :1]).tolist()
                z, signs = sample_sign_latents(model.lab_to_latent_shape(rgb.shape), self.config.alpha, rgb)
                stego = lab_to_rgb(torch.cat((lab[:, :1], model.decode(z, lab[:, :1], lab[:, 1:])), dim=1))
                received = rgb_to_lab((stego.clamp(0, 1) * 255).round() / 255)
                z_back = model.encode(received[:, 1:], received[:, :1])
                correct += int((z_back * signs > 0).sum())
                total += signs.numel()
        return {"val_nll": _mean(nlls), "val_bit_accuracy": correct / total}

    @staticmethod
    def score(metrics: dict[str, float]) -> float:
        return 100 * metrics["val_bit_accuracy"] - metrics["val_nll"]


class RobustObjective(nn.Module):
    """Robust hiding: hide K secrets, distort the rounded stego with a random attack, restore
    it, reveal every secret. Terms: guide and low-frequency (stego vs cover), reconstruction
    (mean over secrets), enhance (restored vs clean stego bands), level (estimated vs applied
    distortion), lost (predicted vs true lost part)."""

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.inputs = 1 + model.config.secrets
        self.attacks = AttackMixer(AttackConfig(**config.attacks))

    def forward(self, images: list[Tensor], step: int) -> tuple[Tensor, Terms]:
        cover, *secrets = images
        stego, lost = self.model.hide(cover, *secrets)
        attacked, level = self.attacks(stego, step, None)
        bands, level_estimate = self.model.restore(attacked)
        predicted_lost = self.model.predictor(bands)
        revealed = self.model.reveal_from_bands(bands)
        terms = {
            "guide": mse_255(stego, cover),
            "low_frequency": mse_255(low_frequency(stego), low_frequency(cover)),
            "reconstruction": sum(mse_255(r, s) for r, s in zip(revealed, secrets, strict=True))
            / len(secrets),
            "enhance": mse_255(bands, self.model.bands(stego)),
            "level": (level_estimate - level).square().mean(),
            "lost": mse_255(predicted_lost, lost),
        } | _visibility_terms(stego, cover, self.config)
        return _weighted(terms, self.config), terms

    @torch.no_grad()
    def validate(self, model: nn.Module, covers: Tensor, batch: int = 4) -> dict[str, float]:
        """Cover i hides images i+1..i+K; revealed after rounding, JPEG Q75 (approximation)
        and Gaussian noise 5/255, all rounded to 8 bits; mean PSNRs (RGB); the stego's
        strongest pattern (levels) and SSIM-Y."""
        secrets_count = model.config.secrets
        generator = torch.Generator(device=covers.device).manual_seed(0)
        channels = {
            "clean": lambda x: x,
            "jpeg75": lambda x: jpeg_approx(x, 75.0),
            "noise5": lambda x: gaussian_noise(x, 5 / 255, generator),
        }
        stego_psnrs: list[float] = []
        visibility: dict[str, list[float]] = {"pattern": [], "ssim_y": []}
        revealed_psnrs: dict[str, list[float]] = {name: [] for name in channels}
        for start in range(0, len(covers), batch):
            cover = covers[start : start + batch]
            secrets = [covers.roll(-k, dims=0)[start : start + batch] for k in range(1, secrets_count + 1)]
            stego = round_8bit(model.hide(cover, *secrets)[0])
            stego_psnrs += psnr(stego, cover).tolist()
            for name, values in _visibility(stego, cover).items():
                visibility[name] += values
            for name, attack in channels.items():
                revealed = model.reveal(round_8bit(attack(stego)))
                for r, s in zip(revealed, secrets, strict=True):
                    revealed_psnrs[name] += psnr(round_8bit(r), s).tolist()
        metrics = {"val_stego_psnr": _mean(stego_psnrs)}
        metrics |= {f"val_{name}": _mean(values) for name, values in visibility.items()}
        metrics |= {f"val_secret_psnr_{name}": _mean(values) for name, values in revealed_psnrs.items()}
        return metrics

    @staticmethod
    def score(metrics: dict[str, float]) -> float:
        revealed = [v for k, v in metrics.items() if k.startswith("val_secret_psnr_")]
        # Below the 33 dB stego floor, every dB of stego counts triple; so does every level
        # of visible pattern above 1.
        visible = max(0.0, metrics.get("val_pattern", 0.0) - 1.0)
        return _mean(revealed) + 3 * min(0.0, metrics["val_stego_psnr"] - 33.0) - 3 * visible


def bicubic_thumbnail(image: Tensor, scale: int) -> Tensor:
    """``image`` shrunk by ``scale`` with an antialiased bicubic filter: IRN's target look."""
    return nn.functional.interpolate(
        image, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False
    ).clamp(0, 1)


class RescaleObjective(nn.Module):
    """IRN: downscale, fit the small image to a bicubic thumbnail (L2) and ``z`` to 0
    (``latent``), round the small image to 8 bits (straight through), upscale and compare
    with the original (Charbonnier L1, ``reconstruction``). Sums per small-image pixel,
    IRN's weighting. Half the batch upscales with ``z = 0`` (what invsteg measures and
    uses), half with ``t * N(0, 1)`` for a random ``t`` in [0, 1), so upscaling at a temperature works."""

    inputs = 1

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, images: list[Tensor], step: int) -> tuple[Tensor, Terms]:
        (image,) = images
        small, z = self.model.downscale(image)
        pixels = small.shape[0] * small.shape[2] * small.shape[3]
        temperature = torch.rand(z.shape[0], 1, 1, 1, device=z.device, dtype=z.dtype)
        temperature[: z.shape[0] // 2] = 0
        restored = self.model.upscale(round_8bit(small), temperature * torch.randn_like(z))
        terms = {
            "fit": (small - bicubic_thumbnail(image, self.model.scale)).square().sum() / pixels,
            "latent": z.square().sum() / pixels,
            "reconstruction": ((restored - image).square() + 1e-6).sqrt().sum() / pixels,
        }
        return _weighted(terms, self.config), terms

    @torch.no_grad()
    def validate(self, model: nn.Module, covers: Tensor, batch: int = 4) -> dict[str, float]:
        """Down -> 8 bits -> up with ``z = 0``: mean PSNRs (RGB) of the restored image and
        of the small image against the bicubic thumbnail."""
        restored_psnrs, small_psnrs = [], []
        for start in range(0, len(covers), batch):
            image = covers[start : start + batch]
            small = round_8bit(model.downscale(image)[0])
            restored = round_8bit(model.upscale(small))
            restored_psnrs += psnr(restored, image).tolist()
            small_psnrs += psnr(small, bicubic_thumbnail(image, model.scale)).tolist()
        return {
            "val_restored_psnr": _mean(restored_psnrs),
            "val_worst_restored_psnr": min(restored_psnrs),
            "val_small_psnr": _mean(small_psnrs),
        }

    @staticmethod
    def score(metrics: dict[str, float]) -> float:
        # The small image must still look like a thumbnail: below 38 dB each dB counts triple.
        return metrics["val_restored_psnr"] + 3 * min(0.0, metrics["val_small_psnr"] - 38.0)


OBJECTIVES = {
    "hide": HidingObjective,
    "embed": EmbeddingObjective,
    "robust": RobustObjective,
    "rescale": RescaleObjective,
}


def objective_for(task: str, model: nn.Module, config: TrainConfig) -> nn.Module:
    """The objective that trains a model of registry task ``task``."""
    return OBJECTIVES[task](model, config)
