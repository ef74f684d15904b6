"""Training losses, named in configs (``train.loss``).

A loss is a sum of weighted terms, written ``"l1"``, ``"mse"``, ``"l1+0.1*sam"``; each term compares a prediction with
the target, both ``(N, C, H, W)``:

* ``l1``: mean absolute error (the INR-HSISR paper's loss, eq. 1 / 11).
* ``mse``: mean squared error.
* ``mrae``: mean relative absolute error ``|ŷ − y| / (y + 1e-3)`` (the NTIRE challenges' metric; the epsilon keeps
  dark pixels from dominating).
* ``sam``: mean spectral angle in radians over pixels (differentiable; ``eps`` guards zero spectra).
* ``psnr``: the evaluation's PSNR, negated: mean over images ``n`` and bands ``c`` of ``10 log10(MSE_nc + 1e-5)``
  in dB, ``MSE_nc`` over the pixels of one band of one image (patch). The metric (:func:`hsinr.metrics.psnr`) is a
  mean over bands of ``−10 log10 MSE_c``, so it rewards the same *relative* error reduction in every band and every
  scene; L1 and MSE weight the bands by their absolute errors instead. The ``1e-5`` floor (50 dB) keeps a dark patch
  from taking over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mrae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((pred - target).abs() / (target.abs() + 1e-3)).mean()


def _sam(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    dot = (pred * target).sum(dim=1)
    norms = pred.norm(dim=1) * target.norm(dim=1)
    cosine = (dot / (norms + 1e-8)).clamp(-1 + 1e-6, 1 - 1e-6)
    return torch.acos(cosine).mean()


PSNR_LOSS_FLOOR = 1e-5  # MSE floor of the ``psnr`` term (a 50 dB patch-band counts as 50 dB)


def _negative_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mse = (pred - target).square().flatten(2).mean(dim=2)  # (N, C): one MSE per image and band
    return (10 * torch.log10(mse + PSNR_LOSS_FLOOR)).mean()


TERMS: dict[str, LossFn] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
    "mrae": _mrae,
    "sam": _sam,
    "psnr": _negative_psnr,
}


def make_loss(spec: str) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]:
    """Parse ``"l1+0.1*sam"`` into ``loss(pred, target) -> (total, {term: value})``; unknown terms raise ConfigError."""
    terms: list[tuple[float, str]] = []
    for part in str(spec).replace(" ", "").split("+"):
        weight, _, name = part.rpartition("*")
        if name not in TERMS:
            raise ConfigError(f"train.loss: unknown term {name!r} in {spec!r}; known: {', '.join(TERMS)}")
        try:
            terms.append((float(weight) if weight else 1.0, name))
        except ValueError:
            raise ConfigError(f"train.loss: weight {weight!r} of {name!r} is not a number") from None

    def loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        pred, target = pred.float(), target.float()
        values = {name: TERMS[name](pred, target) for _, name in terms}
        total = sum(weight * values[name] for weight, name in terms)
        return total, {name: float(value.detach()) for name, value in values.items()}

    return loss
