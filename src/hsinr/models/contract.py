"""The model contract: what the trainer, the tiler, the evaluator and the exporter may ask of a registry model.

Every model is a bare ``nn.Module`` built by the registry. Beyond ``forward`` it may declare:

* ``input_keys`` (class attribute, default ``("rgb",)``): the batch keys ``forward`` takes, in order
  (fusion models: ``("lr_hsi", "hr_msi")``).
* ``closed_form = True``: fitted in one pass, never by gradient descent (least squares, training-free recoveries);
  ``fits_data = False`` when there is nothing to fit.
* ``fit_prior(pairs)``: a closed-form part fitted on the training pairs before the first optimiser step
  (:class:`~hsinr.models.prior_residual.PriorResidual`), or all of a closed-form model that is not a least-squares
  map (:class:`~hsinr.models.calibrated_fusion.CalibratedRegressionFusion`).
* ``receptive_radius()``: pixels of context per side that determine one output pixel (``None``: unbounded), and
  ``alignment``: tile origins must be multiples of it. A bounded radius enables exact halo tiling.
* ``core_output = True``: ``forward(x, ..., core=(top, left, height, width))`` returns only that region of the
  output while still seeing the whole input, so exact halo tiling need not compute the halo's output.
* ``extra_macs(h, w)``: multiply-accumulates that layer hooks cannot see (for the complexity tables).
* ``zero_output()``: make the output exactly zero (a learned residual starts at its prior).

The functions below read the contract, so that nothing else uses ``getattr(model, ...)`` with its own default.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch.nn as nn


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a ``DistributedDataParallel`` (or ``torch.compile``) wrapper."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def input_keys(model: nn.Module) -> tuple[str, ...]:
    """The batch keys ``model.forward`` takes, in order."""
    return tuple(getattr(unwrap(model), "input_keys", ("rgb",)))


def is_closed_form(model: nn.Module) -> bool:
    """True for models fitted in one pass instead of by gradient descent."""
    return bool(getattr(unwrap(model), "closed_form", False))


def fits_data(model: nn.Module) -> bool:
    """False for closed-form models that have nothing to fit (training-free methods)."""
    return bool(getattr(unwrap(model), "fits_data", True))


def fit_closed_form_parts(model: nn.Module, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Fit what a model fits in closed form on ``(input, target)`` numpy pairs; returns True when it fitted anything.

    A model with a ``fit_prior`` fits its closed-form part with it (for a closed-form model, that is all of it);
    another closed-form model is fitted whole (:func:`~hsinr.models.least_squares.fit_from_pairs`) unless it has
    nothing to fit; other models are left alone.
    """
    from .least_squares import fit_from_pairs

    module = unwrap(model)
    if not fits_data(module):
        return False
    if hasattr(module, "fit_prior"):
        module.fit_prior(pairs)
        return True
    if is_closed_form(module):
        fit_from_pairs(module, pairs)
        return True
    return False


def receptive_radius(model: nn.Module) -> int | None:
    """Context pixels per side of one output pixel, or ``None`` when unbounded or undeclared."""
    radius = getattr(unwrap(model), "receptive_radius", None)
    return radius() if callable(radius) else None


def alignment(model: nn.Module) -> int:
    """Tile origins must be multiples of this many pixels (1 when undeclared)."""
    return int(getattr(unwrap(model), "alignment", 1))


def core_output(model: nn.Module) -> bool:
    """True when ``forward`` takes ``core=(top, left, height, width)`` and returns only that region."""
    return bool(getattr(unwrap(model), "core_output", False))
