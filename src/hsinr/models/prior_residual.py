"""A closed-form physical prior plus a learned residual, optionally projected onto exact RGB consistency.

    ŷ = prior(x) + r_θ(x)                         (prior: root-polynomial least squares, fitted on the training set,
                                                   or another closed-form model: ``prior: {name, args}``)
    ŷ = prior(x) + b(x) · r_θ(x / b(x))           (``exposure_invariant=True``, b(x) = the pixel's mean RGB)
    ŷ ← ŷ + P⁺ (x − P ŷ),  P⁺ = Pᵀ (P Pᵀ)⁻¹     (``consistency=True``: exact re-rendering, P ŷ = x)
    ŷ = prior(x) + g(x) · r_θ(x)                  (``chromaticity_gate``, at inference: g = the colour's familiarity)
    ŷ ← (1 − w) ŷ + w c(x)                        (``blend``, at inference: c another closed-form model, e.g. A+)

``x`` is the linear camera RGB ``(N, 3, H, W)``, ``P`` the ``(3, C)`` camera response (``rgb = cube @ P.T``, eq. 4 of
the INR-HSISR paper) and ``r_θ`` any RGB → HSI network of the registry (INR-HSISR by default). The residual network's
output layer starts at zero, so an untrained model *is* the least-squares map, and training only has to learn what
the prior misses. The projection keeps only the component of the prediction that the camera cannot see (the
*metameric black*); the visible component is fixed by the input, so re-rendering the output reproduces the input RGB
exactly. The root-polynomial prior and the projection are exposure-invariant (``f(k x) = k f(x)``: a scene lit
twice as brightly has twice the radiance); with ``exposure_invariant=True`` the residual is too: it sees each pixel's
RGB divided by its brightness (a chromaticity) and its output is scaled back, so it learns spectral shape per unit of
light (measured on CAVE it loses 0.6 dB and most of the SAM gain: ``docs/benchmarks.md``). These ideas follow Lin
& Finlayson on physically plausible spectral reconstruction (Y.-T. Lin, G. D. Finlayson, "Physically plausible
spectral reconstruction", Sensors 20(21), 2020, and "Exposure invariance in spectral reconstruction from RGB images",
CIC 2019).

With ``chromaticity_gate: {threshold, floor}`` the residual of each pixel is weighted, when the model is evaluated
(``model.eval()``), by how often the training pixels had its chromaticity (:mod:`.chromaticity_gate`): a colour the
training scenes never showed falls back towards the prior. Training fits the residual ungated, so the gate only
shrinks it where it was learned from few or no pixels; a per-pixel weight keeps the exact RGB consistency.

With ``blend: {name, args}`` the evaluated model's prediction is averaged with that of a second closed-form model
``c`` fitted on the same training pairs (anchored regression, :mod:`.anchored_regression`, in the recipe), weight
``blend_weight``: an ensemble of the learned model with a classical one whose errors are partly different (on CAVE,
+0.14 dB in five-fold cross-validation at ``w = 0.2``, chosen on validation scenes: ``docs/benchmarks.md``). Like
the gate it is applied at inference only; the residual is trained without it. The projection comes last, so the
blend re-renders to the input RGB exactly as well.

The prior is fitted by the trainer through :meth:`PriorResidual.fit_prior` before the first optimiser step (the model
contract's closed-form part, see :mod:`hsinr.models.contract`); its matrix is a buffer, so checkpoints carry it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from .chromaticity_gate import ChromaticityGate
from .contract import fit_closed_form_parts, is_closed_form
from .least_squares import RootPolynomialLeastSquares, fit_from_pairs
from .registry import make, register


def zero_output_layer(model: nn.Module) -> None:
    """Make ``model``'s output start at zero: its own ``zero_output()`` when it has one, else the weights and bias of
    the last convolution or linear layer it defines (the output layer of the project's CNN baselines)."""
    if hasattr(model, "zero_output"):
        model.zero_output()
        return
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ConfigError(f"{type(model).__name__} has no output layer to start at zero")
    with torch.no_grad():
        layers[-1].weight.zero_()
        if layers[-1].bias is not None:
            layers[-1].bias.zero_()


class PriorResidual(nn.Module):
    """``(N, 3, H, W)`` linear RGB → ``(N, out_bands, H, W)``: root-polynomial prior + residual network.

    Args:
        residual: registry spec ``{"name", "args"}`` of the residual network (its ``out_bands`` is set to ours).
        out_bands: bands produced.
        degree: root-polynomial degree of the prior (1 = linear, 2, 3).
        ridge: ridge of the prior's normal equations (see :mod:`.least_squares`).
        prior: registry spec of another closed-form RGB → HSI model to use as the prior instead of root-polynomial
            least squares (e.g. ``{"name": "anchored_ls", "args": {"anchors": 128}}``: :mod:`.anchored_regression`);
            ``degree`` and ``ridge`` then do not apply.
        consistency: project the output onto ``P ŷ = x`` (needs ``srf``).
        exposure_invariant: feed the residual ``x / b`` and scale its output by ``b``, ``b = max(mean_k x_k,
            brightness_floor)`` per pixel (linear RGB units), so that ``f(k x) = k f(x)`` for pixels above the floor.
        brightness_floor: the smallest brightness ``b`` divides by (darker pixels are treated as this bright).
        chromaticity_gate: ``{threshold, floor}`` (and optionally ``bins``, ``dark``, ``sigma``) of a
            :class:`~.chromaticity_gate.ChromaticityGate` weighting the residual at inference; ``None``: no gate.
        blend: registry spec of a closed-form RGB → HSI model (e.g. ``{"name": "anchored_ls", "args": {...}}``)
            whose prediction is averaged with the model's at inference; ``None``: no blend.
        blend_weight: ``w``, the blend model's share of the output (0 … 1).
        srf: ``(3, out_bands)`` camera response, filled from the task when the config leaves it out.
    """

    input_keys = ("rgb",)

    def __init__(
        self,
        residual: dict,
        out_bands: int = 31,
        degree: int = 2,
        ridge: float = 1e-6,
        consistency: bool = False,
        exposure_invariant: bool = False,
        brightness_floor: float = 1e-3,
        chromaticity_gate: dict | None = None,
        prior: dict | None = None,
        blend: dict | None = None,
        blend_weight: float = 0.2,
        srf: list | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(residual, dict) or "name" not in residual:
            raise ConfigError("prior_residual needs residual: {name: ..., args: {...}}")
        self.out_bands, self.ridge, self.consistency = out_bands, float(ridge), bool(consistency)
        if not brightness_floor > 0:
            raise ConfigError(f"prior_residual: brightness_floor must be > 0, got {brightness_floor}")
        self.exposure_invariant, self.brightness_floor = bool(exposure_invariant), float(brightness_floor)
        if prior is None:
            self.prior: nn.Module = RootPolynomialLeastSquares(out_bands, degree)
        else:
            self.prior = closed_form_part("prior", prior, out_bands)
        self.blend = None if blend is None else closed_form_part("blend", blend, out_bands)
        if not 0.0 <= blend_weight <= 1.0:
            raise ConfigError(f"prior_residual: blend_weight must be in [0, 1], got {blend_weight}")
        self.blend_weight = float(blend_weight)
        if chromaticity_gate is not None and not isinstance(chromaticity_gate, dict):
            raise ConfigError(f"prior_residual: chromaticity_gate must be {{threshold, floor}}: {chromaticity_gate}")
        try:
            self.gate = ChromaticityGate(**chromaticity_gate) if chromaticity_gate else None
        except TypeError as exc:
            raise ConfigError(f"prior_residual: chromaticity_gate: {exc}") from None
        args = {**(residual.get("args") or {}), "out_bands": out_bands}
        self.residual = make({"name": residual["name"], "args": args})
        zero_output_layer(self.residual)
        if consistency and srf is None:
            raise ConfigError("prior_residual: consistency needs the camera response srf (3, out_bands)")
        if srf is not None:
            P = torch.as_tensor(np.asarray(srf, dtype=np.float64))
            if P.shape != (3, out_bands):
                raise ConfigError(f"prior_residual: srf must be (3, {out_bands}), got {tuple(P.shape)}")
            # P⁺ = Pᵀ(PPᵀ)⁻¹ for a full-rank response, (C, 3): maps an RGB error back to the smallest spectral
            # correction that removes it (the pseudo-inverse also covers rank-deficient responses).
            self.register_buffer("srf", P.float())
            self.register_buffer("back_projection", torch.linalg.pinv(P).float())
        else:
            self.srf = None

    def fit_prior(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Fit the least-squares prior (and the chromaticity gate's histogram) on ``(rgb (H, W, 3), cube (H, W, C))``
        training pairs, one pair at a time; then the blend model, if any, on the same pairs (kept in a list for it:
        tasks hold their training pairs in memory anyway)."""
        gate = self.gate
        kept: list[tuple[np.ndarray, np.ndarray]] = []

        def counted(pairs: Iterable[tuple[np.ndarray, np.ndarray]]):
            for rgb, cube in pairs:
                if gate is not None:
                    gate.add(rgb)
                if self.blend is not None:
                    kept.append((rgb, cube))
                yield rgb, cube

        if isinstance(self.prior, RootPolynomialLeastSquares):
            fit_from_pairs(self.prior, counted(pairs), self.ridge)
        else:
            fit_closed_form_parts(self.prior, counted(pairs))
        if gate is not None:
            gate.finish()
        if self.blend is not None:
            fit_closed_form_parts(self.blend, kept)

    def forward(self, rgb: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """``prior(rgb) + residual(rgb)`` (then the consistency projection); ``core=(top, left, h, w)`` (see
        :func:`~hsinr.models.contract.core_output`) is passed to the residual and the pixel-wise prior is evaluated on
        that region only."""
        core = kwargs.get("core")
        brightness = rgb.mean(1, keepdim=True).clamp_min(self.brightness_floor) if self.exposure_invariant else None
        out = self.residual(rgb if brightness is None else rgb / brightness, *args, **kwargs)
        if core is not None:
            top, left, height, width = core
            rgb = rgb[..., top : top + height, left : left + width]
            if brightness is not None:
                brightness = brightness[..., top : top + height, left : left + width]
        if brightness is not None:
            out = out * brightness
        if self.gate is not None and not self.training:
            out = out * self.gate(rgb)
        prior = self.prior(rgb)
        out = out + prior if torch.is_grad_enabled() else out.add_(prior)  # in place: one output-sized buffer less
        if self.blend is not None and not self.training:
            out = self._blend(out, rgb)
        return self.project(out, rgb)

    def _blend(self, out: torch.Tensor, rgb: torch.Tensor, rows: int = 16) -> torch.Tensor:
        """``(1 − w) out + w c(x)``, computed in place ``rows`` image rows at a time when no gradient is needed (the
        blend model's temporaries then stay a few rows in size: a 2048² image stays within its memory budget) and in
        one piece otherwise (in ONNX export, whose graph must not depend on the image size)."""
        assert self.blend is not None
        if torch.is_grad_enabled() or torch.onnx.is_in_onnx_export():
            return torch.lerp(out, self.blend(rgb), self.blend_weight)
        for start in range(0, rgb.shape[2], rows):
            out[:, :, start : start + rows].lerp_(self.blend(rgb[:, :, start : start + rows]), self.blend_weight)
        return out

    def prior_prediction(self, rgb: torch.Tensor) -> torch.Tensor:
        """What the model predicts with its residual at zero, ``(N, 3, H, W)`` → ``(N, out_bands, H, W)``: the
        least-squares prior (projected onto ``P ŷ = x`` when ``consistency``). ``forward`` = this + the residual's
        metameric-black part; a blend ``prior + α (forward − prior)`` shrinks the learned part
        (``benchmarks/ensemble.py --blend-prior``)."""
        return self.project(self.prior(rgb), rgb)

    def project(self, out: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """``out + P⁺ (x − P out)`` when ``consistency`` (exact re-rendering), else ``out`` unchanged: any
        ``(N, C, H, W)`` prediction for the ``(N, 3, H, W)`` input ``x`` made to re-render to it, as the model's own
        outputs do."""
        if not self.consistency:
            return out
        error = rgb - torch.einsum("kc,nchw->nkhw", self.srf.to(out.dtype), out)
        return out + torch.einsum("ck,nkhw->nchw", self.back_projection.to(out.dtype), error)

    # The residual network decides how the model may be tiled.
    def receptive_radius(self) -> int | None:
        radius = getattr(self.residual, "receptive_radius", None)
        return radius() if callable(radius) else None

    @property
    def alignment(self) -> int:
        return int(getattr(self.residual, "alignment", 1))

    @property
    def core_output(self) -> bool:
        return bool(getattr(self.residual, "core_output", False))

    def extra_macs(self, height: int, width: int) -> int:
        parts = (self.prior, self.residual, self.blend)
        counters = [getattr(part, "extra_macs", None) for part in parts if part is not None]
        return sum(count(height, width) for count in counters if callable(count))


def closed_form_part(role: str, spec: dict, out_bands: int) -> nn.Module:
    """The closed-form model of registry ``spec`` (``{name, args}``) that plays ``role`` (``prior`` or ``blend``)."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"prior_residual: {role} must be {{name: ..., args: {{...}}}}, got {spec!r}")
    model = make({"name": spec["name"], "args": {**(spec.get("args") or {}), "out_bands": out_bands}})
    if not is_closed_form(model):
        raise ConfigError(f"prior_residual: the {role} {spec['name']!r} is not a closed-form model")
    return model


register("prior_residual")(PriorResidual)  # the class itself: its signature tells the task which args to fill
