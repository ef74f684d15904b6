"""Physics-based synthesis (RGB → remote-sensing HSI), the task of INSS: its training objective (Liu, Zou, Shi,
Sec. III-D, eq. 11–19).

    L_total = L_pxl + λ1 L_cos + λ2 L_hsv + λ3 L_reg + λ4 L_adv                                       (eq. 18)

* ``L_pxl`` (eq. 11): L1 error of each band, weighted by that band's variance in the target batch (weights
  normalised to sum to 1; ``band_weighted=False`` gives equal weights, Table II exp. 1).
* ``L_cos`` (eq. 12–13): the paper writes the expected cosine similarity; as a quantity to *minimise* we use
  ``1 − cos⟨s, s_r⟩`` per pixel (the spectral-angle loss), which has the same gradient up to sign.
* ``L_hsv`` (eq. 14): L1 distance between the HSV images of ``x(S)`` and ``x(S_r)``, where ``x(·)`` renders RGB with
  the same response as the network input (``rgb = cube @ response.T``, for AVIRIS the one-hot picks of bands
  35/18/8). Hue is an angle: its difference is taken on the circle, ``min(|Δh|, 1 − |Δh|)``.
* ``L_reg`` (eq. 15): mean ``|S_r − L_r|``, the size of the non-linear (multiple-reflection) part.
* ``L_adv`` (eq. 16–17): a conditional spatial discriminator on ``[rgb, cube]`` and a spectral discriminator on single
  pixel spectra; the generator minimises the non-saturating form ``−log D(S_r)`` of each.

Bands marked invalid (water absorption, see :func:`hsinr.data.remote.valid_band_mask`) are left out of every term.
Default weights: λ1 = 10, λ2 = 0.1, λ3 = 1, λ4 = 0.01 (Sec. III-E-3); a weight of 0 removes its term (Table II).

:class:`INSSLoss` is the objective (with the discriminators of :mod:`hsinr.models.inss_discriminators` and their
optimiser); :class:`INSSTask` (``task: inss``) adapts it to the trainer: one remote-sensing cube split into disjoint
training, validation and test regions, and the spectral library (:func:`hsinr.spectral.library.library_from_spec`)
written into the model's arguments. The same task trains RGB → HSI baselines (least squares, CNNs) on that data with
an L1 loss over the valid bands, for benchmarks against INSS.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.patches import PatchDataset
from ..data.remote import (
    band_pick_response,
    load_remote_cube,
    remote_pair,
    split_columns,
    split_rows,
    valid_band_mask,
)
from ..data.split import save_split
from ..errors import ConfigError
from ..infer.reconstruct import reconstruct
from ..models.contract import unwrap
from ..models.inss_discriminators import SpatialDiscriminator, SpectralDiscriminator
from ..spectral.library import library_from_spec
from .base import EvalCase, mean_metrics, register_task


def band_variance_weights(cube: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Eq. 11 weights: the variance of each band over the batch and its pixels, normalised to ``‖w‖_1 = 1``.

    Args:
        cube: target ``(N, C, H, W)``.
        valid: bool ``(C,)``; invalid bands get weight 0.

    Returns:
        ``(C,)`` non-negative weights summing to 1 over the valid bands (equal weights if every variance is 0).
    """
    variance = cube.detach().transpose(0, 1).reshape(cube.shape[1], -1).var(dim=1, unbiased=False)
    variance = torch.where(valid, variance, torch.zeros_like(variance))
    total = variance.sum()
    if total <= 0:
        return valid.float() / valid.sum()
    return variance / total


def weighted_l1_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 11: ``Σ_b w_b · mean_{n,h,w} |S_b − S_r,b|`` for ``(N, C, H, W)`` tensors and ``(C,)`` weights."""
    per_band = (pred - target).abs().mean(dim=(0, 2, 3))
    return (per_band * weights).sum()


def cosine_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Eq. 12–13 as a loss: mean over pixels of ``1 − cos⟨s, s_r⟩`` over the valid bands; 0 for parallel spectra."""
    p, t = pred[:, valid], target[:, valid]
    cos = (p * t).sum(1) / torch.sqrt((p * p).sum(1) * (t * t).sum(1) + eps)
    return (1.0 - cos).mean()


def rgb_to_hsv(rgb: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Differentiable RGB → HSV for ``(N, 3, H, W)`` tensors.

    Negative values are clipped to 0. Returns ``(N, 3, H, W)`` with hue in [0, 1) (fraction of a turn; red = 0,
    green = 1/3, blue = 2/3), saturation ``(max − min)/max`` in [0, 1] and value ``max``. Chroma below ``eps`` is
    treated as ``eps`` in the hue denominator so that near-grey pixels give bounded gradients.
    """
    rgb = rgb.clamp_min(0.0)
    r, g, b = rgb.unbind(1)
    value, argmax = rgb.max(dim=1)
    chroma = value - rgb.min(dim=1).values
    safe = chroma.clamp_min(eps)
    hue = torch.where(
        argmax == 0,
        torch.remainder((g - b) / safe, 6.0),
        torch.where(argmax == 1, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    hue = torch.remainder(hue / 6.0, 1.0)
    saturation = chroma / value.clamp_min(1e-8)
    return torch.stack([hue, saturation, value], dim=1)


def hsv_loss(pred_rgb: torch.Tensor, target_rgb: torch.Tensor) -> torch.Tensor:
    """Eq. 14: mean L1 distance of HSV images, the hue difference taken on the circle."""
    p, t = rgb_to_hsv(pred_rgb), rgb_to_hsv(target_rgb)
    difference = (p - t).abs()
    hue = torch.minimum(difference[:, 0], 1.0 - difference[:, 0])
    return torch.stack([hue, difference[:, 1], difference[:, 2]], dim=1).mean()


class INSSLoss:
    """The INSS objective: ``loss(model, batch)`` for F, T and t; ``discriminator_step`` for the discriminators.

    Schedule (Sec. III-E-3): the trainer calls :meth:`loss` and steps its own optimiser (Adam, lr 1e-4, cosine decay
    in the paper) every iteration, then calls :meth:`discriminator_step` every iteration; the discriminators are
    updated on every ``d_every``-th call only (default 3: "once after each 3 iters of the other networks") with their
    own Adam optimiser (lr 1e-5, β = (0.5, 0.999)), held by this object. With ``lambda_adv = 0`` no discriminator is
    used or stepped. :meth:`state_dict` / :meth:`load_state_dict` carry the discriminators, their optimiser, the
    pixel-draw generator and the call counter through a checkpoint, so a resumed run continues exactly.

    Args:
        bands: number of cube bands C.
        rgb_response: ``(3, C)`` array with ``rgb = cube @ rgb_response.T``: the rendering ``x(·)`` of eq. 14, the same
            one that made the network's RGB input.
        valid_bands: bool ``(C,)``; False for bands left out of every loss (water absorption). Default: all valid.
        lambda_cos, lambda_hsv, lambda_reg, lambda_adv: λ1…λ4 of eq. 18; 0 removes the term.
        band_weighted: variance weights in eq. 11 (False: every valid band weighs the same).
        d_every: generator iterations per discriminator update.
        d_lr: discriminator learning rate.
        spectra_per_batch: pixels drawn at random from each batch for the spectral discriminator.
        seed: seed of that draw.
    """

    def __init__(
        self,
        bands: int,
        rgb_response: np.ndarray,
        valid_bands: np.ndarray | None = None,
        lambda_cos: float = 10.0,
        lambda_hsv: float = 0.1,
        lambda_reg: float = 1.0,
        lambda_adv: float = 0.01,
        band_weighted: bool = True,
        d_every: int = 3,
        d_lr: float = 1e-5,
        spectra_per_batch: int = 1024,
        seed: int = 0,
    ):
        response = torch.as_tensor(np.asarray(rgb_response), dtype=torch.float32)
        if response.shape != (3, bands):
            raise ConfigError(f"INSS loss: rgb_response must have shape (3, {bands}), got {tuple(response.shape)}")
        valid = torch.ones(bands, dtype=torch.bool) if valid_bands is None else torch.as_tensor(valid_bands).bool()
        if valid.shape != (bands,) or not valid.any():
            raise ConfigError(f"INSS loss: valid_bands must be {bands} booleans with at least one True")
        if min(lambda_cos, lambda_hsv, lambda_reg, lambda_adv) < 0 or d_every < 1:
            raise ConfigError("INSS loss: loss weights must be >= 0 and d_every >= 1")
        self.response, self.valid = response, valid
        self.lambda_cos, self.lambda_hsv = lambda_cos, lambda_hsv
        self.lambda_reg, self.lambda_adv = lambda_reg, lambda_adv
        self.band_weighted, self.d_every, self.spectra_per_batch = band_weighted, d_every, spectra_per_batch
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = 0
        self.spatial = SpatialDiscriminator(bands)
        self.spectral = SpectralDiscriminator()
        self.d_optimizer = torch.optim.Adam(
            list(self.spatial.parameters()) + list(self.spectral.parameters()), lr=d_lr, betas=(0.5, 0.999)
        )

    def weights(self) -> dict[str, float]:
        """The λ of eq. 18 by term name (``cos``, ``hsv``, ``reg``, ``adv``)."""
        return {"cos": self.lambda_cos, "hsv": self.lambda_hsv, "reg": self.lambda_reg, "adv": self.lambda_adv}

    # ----------------------------------------------------------------------------------------------- generator side

    def loss(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 18 for one batch ``{"rgb": (N,3,H,W), "cube": (N,C,H,W)}``; returns ``(total, {term: value})``."""
        rgb, target = batch["rgb"], batch["cube"]
        out = unwrap(model).decompose(rgb)
        pred = out.cube
        valid = self.valid.to(target.device)
        weights = band_variance_weights(target, valid) if self.band_weighted else valid.float() / valid.sum()
        terms = {"pxl": weighted_l1_loss(pred, target, weights)}
        total = terms["pxl"]
        if self.lambda_cos > 0:
            terms["cos"] = cosine_loss(pred, target, valid)
            total = total + self.lambda_cos * terms["cos"]
        if self.lambda_hsv > 0:
            terms["hsv"] = hsv_loss(self._render(pred), self._render(target))
            total = total + self.lambda_hsv * terms["hsv"]
        if self.lambda_reg > 0:
            terms["reg"] = (pred - out.linear)[:, valid].abs().mean()
            total = total + self.lambda_reg * terms["reg"]
        if self.lambda_adv > 0:
            terms["adv"] = self._generator_adversarial(rgb, pred)
            total = total + self.lambda_adv * terms["adv"]
        report = {name: float(value.detach()) for name, value in terms.items()}
        report["total"] = float(total.detach())
        return total, report

    def _render(self, cube: torch.Tensor) -> torch.Tensor:
        """``x(·)`` of eq. 14: ``(N, C, H, W)`` → ``(N, 3, H, W)`` with the input's RGB response."""
        return torch.einsum("nchw,kc->nkhw", cube, self.response.to(cube.device))

    def _masked(self, cube: torch.Tensor) -> torch.Tensor:
        """The cube with invalid bands set to 0, as the discriminators see it."""
        return cube * self.valid.to(cube.device)[None, :, None, None].float()

    def _pick_spectra(self, cube: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Spectra ``(P, C)`` of the pixels ``index`` of the flattened batch."""
        return cube.permute(0, 2, 3, 1).reshape(-1, cube.shape[1])[index]

    def _pixel_index(self, cube: torch.Tensor) -> torch.Tensor:
        count = cube.shape[0] * cube.shape[2] * cube.shape[3]
        index = torch.randperm(count, generator=self.generator)[: self.spectra_per_batch]
        return index.to(cube.device)

    def _generator_adversarial(self, rgb: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """Non-saturating generator side of eq. 16: ``−log D_spat(S_r) − log D_spec(S_r)``."""
        self._to(pred.device)
        fake = self._masked(pred)
        for p in self._discriminator_parameters():
            p.requires_grad_(False)
        try:
            spatial = self.spatial(rgb, fake)
            spectral = self.spectral(self._pick_spectra(fake, self._pixel_index(fake)))
        finally:
            for p in self._discriminator_parameters():
                p.requires_grad_(True)
        return F.binary_cross_entropy_with_logits(
            spatial, torch.ones_like(spatial)
        ) + F.binary_cross_entropy_with_logits(spectral, torch.ones_like(spectral))

    # ------------------------------------------------------------------------------------------- discriminator side

    def discriminator_step(self, model: nn.Module, batch: dict) -> dict[str, float]:
        """Count one generator iteration; on every ``d_every``-th call update both discriminators (eq. 17, max side).

        Returns ``{"d_spatial": ..., "d_spectral": ...}`` (binary cross-entropy of real vs synthesised) when an
        update happened, ``{}`` otherwise.
        """
        if self.lambda_adv <= 0:
            return {}
        self.calls += 1
        if self.calls % self.d_every:
            return {}
        rgb, real = batch["rgb"], batch["cube"]
        self._to(real.device)
        with torch.no_grad():
            fake = self._masked(unwrap(model).decompose(rgb).cube)
        real = self._masked(real)
        index = self._pixel_index(real)
        spatial_real, spatial_fake = self.spatial(rgb, real), self.spatial(rgb, fake)
        spectral_real = self.spectral(self._pick_spectra(real, index))
        spectral_fake = self.spectral(self._pick_spectra(fake, index))
        d_spatial = F.binary_cross_entropy_with_logits(
            spatial_real, torch.ones_like(spatial_real)
        ) + F.binary_cross_entropy_with_logits(spatial_fake, torch.zeros_like(spatial_fake))
        d_spectral = F.binary_cross_entropy_with_logits(
            spectral_real, torch.ones_like(spectral_real)
        ) + F.binary_cross_entropy_with_logits(spectral_fake, torch.zeros_like(spectral_fake))
        self.d_optimizer.zero_grad(set_to_none=True)
        (d_spatial + d_spectral).backward()
        self.d_optimizer.step()
        return {"d_spatial": float(d_spatial.detach()), "d_spectral": float(d_spectral.detach())}

    def _discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.spatial.parameters()) + list(self.spectral.parameters())

    def _to(self, device: torch.device) -> None:
        """Keep the discriminators on the device of the data (parameters are moved in place) and their Adam moments
        with them (re-loading the optimiser state places it on the parameters' device)."""
        if next(self.spatial.parameters()).device == device:
            return
        state = self.d_optimizer.state_dict()
        self.spatial.to(device)
        self.spectral.to(device)
        self.d_optimizer.load_state_dict(state)

    # --------------------------------------------------------------------------------------------------- checkpoint

    def state_dict(self) -> dict:
        """What a resumed run needs: ``{"spatial", "spectral"}`` discriminator weights, ``"optimizer"`` (their Adam
        state), ``"generator"`` (the pixel-draw generator's state, a uint8 tensor) and ``"calls"`` (generator
        iterations counted so far, which fixes the phase of the ``d_every`` schedule). Tensors, numbers and dicts
        only, so the checkpoint loads with ``torch.load(weights_only=True)``."""
        return {
            "spatial": dict(self.spatial.state_dict()),
            "spectral": dict(self.spectral.state_dict()),
            "optimizer": self.d_optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "calls": self.calls,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (the discriminators stay on their current device; see :meth:`_to`)."""
        self.spatial.load_state_dict(state["spatial"])
        self.spectral.load_state_dict(state["spectral"])
        self.d_optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.calls = int(state["calls"])


# --------------------------------------------------------------------------------------------------- training task


@register_task("inss")
class INSSTask:
    """``task: inss`` — a remote-sensing cube split into three disjoint regions: training (left columns), validation
    (the top rows of the right columns) and test (the bottom rows of the right columns).

    Trains INSS with its objective (:class:`INSSLoss`), and, on the same data, split and band mask, any RGB → HSI
    model of the registry (``linear_ls``, ``hscnn_r``, ...) with a plain L1 loss over the valid bands, so that
    ``hsinr benchmark`` can compare INSS with spectral super-resolution baselines.

    Config keys (besides the trainer's ``train`` section):

    * ``model``: ``{name: inss, args: {order, cell, widths, ...}}``; ``library``, ``library_names`` and
      ``library_classes`` are filled in from ``data.library`` when absent (and so stored in every checkpoint). For
      any other model ``args.out_bands`` is set to the cube's band count when absent (another value is an error).
    * ``data.root``: the cube file (Jasper Ridge, Samson or Urban of ``../shared/data/remote``); ``data.loader``:
      ``jasper``/``samson``/``urban`` when the file name does not say; ``data.train_fraction`` (0.5): the share of
      columns, from the left, used for training; ``data.val_fraction`` (0.5): the share of the remaining (right)
      columns' rows, from the top, used for validation (checkpoint selection); the rest of them is the test region.
      For Jasper Ridge (100 × 100) with the defaults: train rows 0–99 × columns 0–49, val rows 0–49 × columns
      50–99, test rows 50–99 × columns 50–99 (written to ``split.json`` with these ranges);
      ``data.rgb_wavelengths``: R, G, B wavelengths in nm (default AVIRIS bands 35/18/8); ``data.library``: see
      :func:`hsinr.spectral.library.library_from_spec` (``source: training`` takes the endmembers of the training
      region); ``data.patch_size``, ``data.patches_per_epoch``,
      ``data.augment`` as for every task.
    * ``inss``: keyword arguments of :class:`INSSLoss` (``lambda_cos``, ``lambda_hsv``, ``lambda_reg``,
      ``lambda_adv``, ``band_weighted``, ``d_every``, ``d_lr``, ...); ignored for other models.

    The RGB input is the cube's own three bands; losses and metrics leave out the water-absorption bands
    (:func:`hsinr.data.remote.valid_band_mask`). The trainer calls :meth:`loss` each iteration and
    :meth:`discriminator_step` after each optimiser step (see :class:`INSSLoss` for the schedule), and stores
    :meth:`extra_state` (the discriminators and their optimiser) in every ``last.pt`` for ``--resume``.
    """

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.run_dir = config, Path(run_dir)
        data = config["data"]
        if not data.get("root"):
            raise ConfigError("task 'inss': data.root must name a remote-sensing cube file (e.g. jasper_ridge_198.mat)")
        if (config["train"].get("loss") or "l1") != "l1":
            raise ConfigError(
                f"task 'inss': train.loss {config['train']['loss']!r} is not used: INSS trains with eq. 18 "
                "(weighted by the config's inss: section) and other models with L1 over the valid bands; "
                "remove train.loss"
            )
        cube = load_remote_cube(data["root"], data.get("loader"))
        self.source = str(data["root"])
        self.wavelengths = cube.wavelengths
        self.valid = valid_band_mask(self.wavelengths)
        self.response = band_pick_response(self.wavelengths, data.get("rgb_wavelengths"))
        self.train_fraction = float(data.get("train_fraction", 0.5))
        self.val_fraction = float(data.get("val_fraction", 0.5))
        train_part, held_out = split_columns(cube, self.train_fraction)
        val_part, test_part = split_rows(held_out, self.val_fraction)
        picks = data.get("rgb_wavelengths")
        self.pairs = {
            "train": remote_pair(train_part, "train", picks),
            "val": remote_pair(val_part, "val", picks),
            "test": remote_pair(test_part, "test", picks),
        }
        self.train_pair = self.pairs["train"]
        stem = Path(self.source).stem
        self.scene_names = {"train": f"{stem}_left", "val": f"{stem}_right_top", "test": f"{stem}_right_bottom"}
        self.regions = self._regions(cube.shape[0], cube.shape[1], train_part.shape[1], val_part.shape[0])
        self.split = {subset: [name] for subset, name in self.scene_names.items()}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_split(self.run_dir / "split.json", self.split, regions=self._split_description())
        self.bands = cube.bands
        self.objective: INSSLoss | None = None
        if config["model"].get("name") == "inss":
            options = {"seed": int(config.get("seed", 0)), **(config.get("inss") or {})}
            try:
                self.objective = INSSLoss(cube.bands, self.response, self.valid, **options)
            except TypeError as exc:
                raise ConfigError(f"task 'inss': bad key in the 'inss' section: {exc}") from None
        self.complete_spec({"name": config["model"].get("name"), "args": dict(config["model"].get("args") or {})})

    def complete_spec(self, spec: dict) -> dict:
        """INSS: ``library``, ``library_names`` and ``library_classes`` from ``data.library`` when absent (so every
        checkpoint holds its library); any other model: ``out_bands`` = the cube's band count when absent (another
        value is a :class:`ConfigError`)."""
        args = dict(spec.get("args") or {})
        if spec.get("name") == "inss":
            if "library" not in args:
                spec_library = self.config["data"].get("library") or {}
                library = library_from_spec(spec_library, self.wavelengths, self.train_pair.cube)
                args.update(
                    library=library.spectra.astype(np.float32).tolist(),
                    library_names=library.names.tolist(),
                    library_classes=library.classes.tolist(),
                )
        elif int(args.setdefault("out_bands", self.bands)) != self.bands:
            raise ConfigError(
                f"task 'inss': model {spec.get('name')!r} has out_bands={args['out_bands']} but {self.source} has "
                f"{self.bands} bands"
            )
        return {"name": spec.get("name"), "args": args}

    def protocol_lines(self) -> list[str]:
        """What every table of an INSS run states: the cube, its three regions, the RGB band picks, the objectives
        (a benchmark's table covers INSS and baselines, so both are stated whichever model this task was made for)."""
        picks = "/".join(f"{self.wavelengths[i]:.1f}" for i in self.response.argmax(axis=1))
        defaults = inspect.signature(INSSLoss).parameters
        weights = {
            name: (self.config.get("inss") or {}).get(f"lambda_{name}", defaults[f"lambda_{name}"].default)
            for name in ("cos", "hsv", "reg", "adv")
        }
        objective = (
            "INSS: eq. 18 with " + ", ".join(f"{k}={v}" for k, v in weights.items()) + "; any other model: L1 over the "
            "valid bands"
        )
        return [
            f"data: {self.source}",
            "regions: "
            + "; ".join(
                f"{subset} = {self.scene_names[subset]}, rows [{r0}, {r1}) × columns [{c0}, {c1})"
                for subset, (r0, r1, c0, c1) in self.regions.items()
            )
            + " (disjoint; best.pt = best validation PSNR)",
            f"input: the cube's own bands at {picks} nm as R/G/B (reflectance scale), no camera response",
            f"training: {objective}",
            f"evaluation: the {int(self.valid.sum())} valid bands of {self.valid.size} (water absorption left out); "
            "PSNR = mean over bands of 10 log10(1 / MSE) (peak 1.0); SAM in degrees",
        ]

    def train_dataset(self, seed: int) -> PatchDataset:
        data = self.config["data"]
        return PatchDataset(
            [self.train_pair],
            patch_size=int(data.get("patch_size", 32)),
            patches_per_epoch=int(data.get("patches_per_epoch", 1000)),
            augment=bool(data.get("augment", True)),
            seed=seed,
        )

    def train_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The training columns as one ``(rgb (H, w, 3), cube (H, w, C))`` pair (closed-form models fit on it)."""
        return [(self.train_pair.rgb, self.train_pair.cube)]

    def loss(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 18 for INSS; for any other model the mean absolute error over the valid bands (``{"l1": ...}``)."""
        if self.objective is not None:
            return self.objective.loss(model, batch)
        pred = model(batch["rgb"])
        valid = torch.as_tensor(self.valid, device=pred.device)
        loss = (pred - batch["cube"])[:, valid].abs().mean()
        return loss, {"l1": float(loss.detach())}

    def discriminator_step(self, model: nn.Module, batch: dict) -> dict[str, float]:
        """Update INSS's discriminators on their schedule; nothing (``{}``) for other models."""
        if self.objective is None:
            return {}
        return self.objective.discriminator_step(model, batch)

    def extra_state(self) -> dict:
        """Training state beyond the model and its optimiser, for ``last.pt``: ``{"discriminators":
        INSSLoss.state_dict()}`` for INSS, ``{}`` for other models."""
        return {} if self.objective is None else {"discriminators": self.objective.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        """Restore :meth:`extra_state` on ``--resume``.

        Raises:
            ConfigError: an INSS checkpoint without discriminator state (written before they were saved).
        """
        if self.objective is None:
            return
        if "discriminators" not in state:
            raise ConfigError("task 'inss': the checkpoint holds no discriminator state to resume; train again")
        self.objective.load_state_dict(state["discriminators"])

    def eval_cases(self, subset: str = "val") -> list[EvalCase]:
        """The whole region of ``subset`` (``train``, ``val`` or ``test``, see the class docstring); none for
        anything else.

        Truth and prediction keep only the valid (non-water-absorption) bands, so every metric of
        :func:`hsinr.metrics.evaluate_all` is over those bands. Prediction is :func:`hsinr.infer.reconstruct` with
        tiles of ``train.val_tile`` pixels (one whole-image pass for images no larger than a tile). The
        back-projection MRAE (RGB re-rendered with the band picks) is included when all three picked bands are valid.
        """
        pair = self.pairs.get(subset)
        if pair is None:
            return []
        tile = int(self.config["train"].get("val_tile", 512))
        valid = self.valid

        def predict(model: nn.Module, rgb: np.ndarray = pair.rgb) -> np.ndarray:
            return reconstruct(rgb, unwrap(model), tile=tile, progress=False)[..., valid]

        picks_valid = bool(valid[self.response.argmax(axis=1)].all())
        metric_args = {"rgb": pair.rgb, "srf": self.response[:, valid]} if picks_valid else {}
        return [
            EvalCase(self.scene_names[subset], pair.cube[..., valid], self.wavelengths[valid], predict, metric_args)
        ]

    def validate(self, model: nn.Module, subset: str = "val") -> dict:
        """Metrics of :meth:`eval_cases` over the region of ``subset`` (valid bands only)."""
        return mean_metrics(model, self.eval_cases(subset))

    def meta(self) -> dict:
        """Checkpoint metadata: band centres, the RGB band picks (as a one-hot ``srf``), valid bands, the split."""
        picks = [float(self.wavelengths[i]) for i in self.response.argmax(axis=1)]
        return {
            "task": "inss",
            "wavelengths": self.wavelengths.tolist(),
            "srf": self.response.tolist(),
            "response": f"cube bands at {picks[0]:.1f}/{picks[1]:.1f}/{picks[2]:.1f} nm as R/G/B",
            "input": "three bands of the cube on its own scale (reflectance ~0-1), rgb = cube @ srf.T",
            "valid_bands": self.valid.tolist(),
            "split": self.split,
            "split_regions": self._split_description(),
            "data": {"root": self.source},
        }

    @staticmethod
    def _regions(height: int, width: int, train_columns: int, val_rows: int) -> dict[str, tuple[int, int, int, int]]:
        """``{subset: (row_start, row_stop, column_start, column_stop)}`` (half-open pixel ranges of the cube)."""
        return {
            "train": (0, height, 0, train_columns),
            "val": (0, val_rows, train_columns, width),
            "test": (val_rows, height, train_columns, width),
        }

    def _split_description(self) -> dict[str, str]:
        """``{scene name: "rows [a, b) × columns [c, d) of H × W in <file>"}`` for the three regions."""
        height, width = self.regions["train"][1], self.regions["test"][3]
        return {
            self.scene_names[subset]: f"rows [{r0}, {r1}) × columns [{c0}, {c1}) of {height} × {width} in {self.source}"
            for subset, (r0, r1, c0, c1) in self.regions.items()
        }
