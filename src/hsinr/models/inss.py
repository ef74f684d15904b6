"""INSS: RGB → remote-sensing HSI through abundances, a spectral library and an implicit neural mixing model.

Liu, Zou, Shi, *Hyperspectral Remote Sensing Image Synthesis based on Implicit Neural Spectral Mixing Models*,
Sections III-A to III-E (``../shared/papers/004_2b4072f1357c83f3.txt``).

    A = F(x)                                   abundances, softmax over the N_g library spectra      (eq. 8)
    φ = upsample_nearest(T(f_l), D)            per-cell parameters of the mixing MLPs                (eq. 6, 9)
    l_p = t ⊙ Σ_i α_i r_i                      linear mixture, t = trainable solar-atmosphere vector (eq. 2)
    x_p^k = M_p^k(A_p, E_p | φ_p, R)           k-th order response, in (−0.1, 0.1) per band           (eq. 3, 4)
    e_p^1 = l_p,  e_p^k = e_p^{k−1} ⊙ x_p^k
    s_p = Σ_{k=1..K} e_p^k = l_p + Σ_{k≥2} l_p ⊙ Π_{i=2..k} x_p^i                                    (eq. 5, 10)

* **Abundance network F** (Sec. III-E-2): a U-Net whose encoder and decoder each hold ``len(widths)`` (default 6)
  residual blocks. Encoder block 0 works at full resolution, blocks 1…n−1 halve it (stride-2), so the bottleneck is
  at 1/2^(n−1). The decoder upsamples by bilinear interpolation followed by a 3×3 convolution (no checkerboard),
  adds the encoder feature of the same scale (additive skip) and applies a residual block. A group normalisation,
  a 1×1 convolution and a softmax over channels give ``N_g`` abundances per pixel: non-negative, summing to one.
  Normalisation (not specified by the paper) sits in every block, after every upsampling convolution and before
  the head: it keeps the logits from growing so fast that the softmax saturates to one-hot maps early in training.
* **Feature transform T** (eq. 9): reflection padding 1, a 3×3 convolution to ``transform_width`` (64) channels,
  Leaky-ReLU, a 1×1 convolution emitting, for every cell of ``cell`` × ``cell`` pixels (D, default 16), all weights
  and biases of the ``order − 1`` mixing MLPs. Its input is the decoder feature at 1/D resolution.
* **Mixing MLP M^k** (Sec. III-E-2): layers ``(N_g + 4·log2 D) → hidden (32) → N_g → bands``; Leaky-ReLU after the
  two hidden layers; the output layer has no bias and its weights are the spectral library R itself (shared by
  every pixel and order, not trained); the output activation is 0.1·tanh. The hidden-layer weights of a pixel are
  those of its cell (nearest upsampling, eq. 6), evaluated cell by cell without materialising the upsampled grid.
* **Positional encoding E** (eq. 7): ``sin/cos(2π p_x / 2^k), sin/cos(2π p_y / 2^k)``, k = 1…log2 D, where
  (p_x, p_y) is the pixel's offset in pixels from the centre of its cell.

**Abundance prior** (``abundance_prior: {degree: d}``; not in the paper, off by default): the training spectra are
unmixed onto the library (non-negative least squares per pixel), a root-polynomial map of degree ``d`` from RGB to
those abundances is fitted in closed form (:mod:`.least_squares`; homogeneous, so a brighter pixel gets
proportionally more of every material), the library's all-zero "shade" spectrum, when it has one, takes what the
materials leave below a sum of one, and F's logits become ``log(a_prior(x)) + head(x)`` (``a_prior`` clipped at
``PRIOR_FLOOR`` and normalised to sum one) with the head's last layer zero at the start. INSS then starts at the
closed-form estimate ``t ⊙ (A_prior R)`` (exactly, for ``order = 1``) and learns a correction of the abundances, as
``prior_residual`` does for spectra; the physical structure (non-negative abundances summing to one over a fixed
library) is kept.

Inputs are RGB images ``(N, 3, H, W)`` on the scale of the training cubes (for AVIRIS: reflectance ≈ 0–1, the RGB
being three of the cube's bands). Any H, W: the image is padded (edge replication) to a multiple of 2^(n−1) and the
outputs are cropped back. With ``order = 1`` the model is exactly the linear mixture ``t ⊙ (A R)`` (Table II exp. 6).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from .least_squares import RootPolynomialLeastSquares
from .registry import register

LEAKY_SLOPE = 0.2
RESPONSE_SCALE = 0.1  # the output activation is RESPONSE_SCALE · tanh (Sec. III-E-2)
PRIOR_FLOOR = 1e-4  # the abundance prior's smallest abundance before its logarithm
PRIOR_PIXELS = 20_000  # pixels per training pair unmixed for the abundance prior (NNLS per pixel)


class INSSOutput(NamedTuple):
    """Everything one INSS pass produces, all cropped to the input's H × W.

    Attributes:
        cube: synthesised HSI ``(N, bands, H, W)`` (eq. 5/10).
        linear: the linear-mixture part ``L_r = t ⊙ (A R)`` ``(N, bands, H, W)`` (eq. 2), used by eq. 15.
        abundances: ``(N, N_g, H, W)``, non-negative, summing to 1 over the library axis.
        t: the solar-atmosphere factor ``(bands,)`` (trainable, shared by all images).
    """

    cube: torch.Tensor
    linear: torch.Tensor
    abundances: torch.Tensor
    t: torch.Tensor


def cell_positional_encoding(cell: int, device: torch.device | None = None) -> torch.Tensor:
    """Eq. 7 for every pixel of a ``cell`` × ``cell`` cell.

    Args:
        cell: D, a power of two ≥ 2.

    Returns:
        ``(cell*cell, 4*log2(cell))`` float32, pixels in row-major order inside the cell; for each k = 1…log2 D the
        columns are ``sin(2π p_x/2^k), cos(2π p_x/2^k), sin(2π p_y/2^k), cos(2π p_y/2^k)``, with
        ``p = index − (cell − 1)/2`` the offset (in pixels, x = column, y = row) from the cell centre.
    """
    offsets = torch.arange(cell, dtype=torch.float32, device=device) - (cell - 1) / 2.0
    py, px = torch.meshgrid(offsets, offsets, indexing="ij")
    px, py = px.reshape(-1), py.reshape(-1)
    columns = []
    for k in range(1, int(math.log2(cell)) + 1):
        w = 2.0 * math.pi / 2.0**k
        columns += [torch.sin(w * px), torch.cos(w * px), torch.sin(w * py), torch.cos(w * py)]
    return torch.stack(columns, dim=1)


def _group_norm(channels: int) -> nn.GroupNorm:
    """Group normalisation with up to 8 groups (fewer when ``channels`` is not a multiple of 8)."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResidualBlock(nn.Module):
    """ResNet basic block [He et al. 2016] with group normalisation: 3×3 conv–GN–Leaky-ReLU–3×3 conv–GN, plus an
    identity (or strided 1×1 conv–GN) shortcut, then Leaky-ReLU.

    Normalisation matters: without it the decoder features grow during the first iterations and the abundance
    softmax saturates to one-hot maps whose gradients vanish. Group rather than batch normalisation because the
    bottleneck of a 32×32 training patch is 1×1: batch statistics over a few values differ wildly from running
    averages, so a batch-normalised network behaves differently in training and inference.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            _group_norm(out_channels),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            _group_norm(out_channels),
        )
        self.act = nn.LeakyReLU(LEAKY_SLOPE)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), _group_norm(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class AbundanceUNet(nn.Module):
    """F of eq. 8: RGB ``(N, 3, H, W)`` → abundances ``(N, N_g, H, W)`` and the decoder features.

    ``H`` and ``W`` must be multiples of ``2**(len(widths) − 1)`` (the model pads before calling).
    """

    def __init__(self, library_size: int, widths: list[int]):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, 1, 1)
        self.encoder = nn.ModuleList(
            [ResidualBlock(widths[0], widths[0], 1)]
            + [ResidualBlock(widths[i - 1], widths[i], 2) for i in range(1, len(widths))]
        )
        self.bottleneck = ResidualBlock(widths[-1], widths[-1], 1)
        # up[i] brings level i+1 to level i (bilinear ×2 then 3×3 conv); decoder[i] refines level i after the skip.
        self.up = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(widths[i + 1], widths[i], 3, 1, 1, bias=False), _group_norm(widths[i]))
                for i in range(len(widths) - 1)
            ]
        )
        self.decoder = nn.ModuleList([ResidualBlock(widths[i], widths[i], 1) for i in range(len(widths) - 1)])
        self.head = nn.Sequential(_group_norm(widths[0]), nn.Conv2d(widths[0], library_size, 1))

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns ``(abundance logits, decoder_features)``; ``decoder_features[j]`` is at 1/2^j of the input size."""
        skips = []
        x = self.stem(rgb)
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self.bottleneck(x)
        features = [x]
        for level in range(len(self.up) - 1, -1, -1):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = self.decoder[level](self.up[level](x) + skips[level])
            features.append(x)
        features.reverse()
        return self.head(x), features


class INSS(nn.Module):
    """Implicit Neural Spectral Synthesis (see the module docstring for the equations).

    Args:
        library: the spectral library R as ``N_g`` spectra of ``bands`` reflectance values each (list of lists).
        order: K of eq. 5, the number of reflection orders (1 = linear mixture, default 3).
        cell: D of eq. 6–7, cell size in pixels, a power of two ≥ 2 (default 16).
        widths: channels of the U-Net levels, full resolution first; ``len(widths) − 1`` halvings, which must reach
            1/(2D) or less so that T sees at least 2 × 2 cells.
        hidden: width of the first hidden layer of each mixing MLP (32).
        transform_width: channels of T's 3×3 convolution (64).
        detach_features: stop the gradient between T and F (Table II "Detach" ablation).
        library_names, library_classes: optional labels, one per spectrum, for the abundance maps.
        abundance_prior: degree of the closed-form abundance prior (module docstring), or ``None`` (the paper's F).
            The prior is fitted by :meth:`fit_prior` (``hsinr train`` does it before the first step).
    """

    input_keys = ("rgb",)

    def __init__(
        self,
        library: torch.Tensor,
        order: int = 3,
        cell: int = 16,
        widths: tuple[int, ...] = (32, 64, 96, 128, 128, 128),
        hidden: int = 32,
        transform_width: int = 64,
        detach_features: bool = False,
        library_names: list[str] | None = None,
        library_classes: list[str] | None = None,
        abundance_prior: int | None = None,
    ):
        super().__init__()
        self.library_names, self.library_classes = library_names, library_classes
        library_size, bands = library.shape
        self.order, self.cell, self.hidden = order, cell, hidden
        self.detach_features = detach_features
        self.pad_multiple = 2 ** (len(widths) - 1)
        self.register_buffer("library", library, persistent=False)  # rebuilt from the spec, never trained
        self.t = nn.Parameter(torch.ones(bands))
        self.abundance_net = AbundanceUNet(library_size, list(widths))
        self.abundance_prior: RootPolynomialLeastSquares | None = None
        zero_spectra = torch.nonzero(~library.bool().any(dim=1)).flatten().tolist()
        self.shade: int | None = zero_spectra[0] if zero_spectra else None  # the "shade" spectrum of the library
        if abundance_prior is not None:
            self.abundance_prior = RootPolynomialLeastSquares(library_size, abundance_prior)
            head = self.abundance_net.head[-1]
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.mlp_inputs = library_size + 4 * int(math.log2(cell))
        self.params_per_mlp = (self.mlp_inputs + 1) * hidden + (hidden + 1) * library_size
        if order > 1:
            self.transform: nn.Module | None = nn.Sequential(
                nn.ReflectionPad2d(1),
                nn.Conv2d(widths[int(math.log2(cell))], transform_width, 3),
                nn.LeakyReLU(LEAKY_SLOPE),
                nn.Conv2d(transform_width, self.params_per_mlp * (order - 1), 1),
            )
        else:
            self.transform = None

    @property
    def out_bands(self) -> int:
        """Bands of the synthesised cube (those of the library)."""
        return int(self.library.shape[1])

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB ``(N, 3, H, W)`` → synthesised HSI ``(N, bands, H, W)``."""
        return self.decompose(rgb).cube

    def forward_with_abundances(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """RGB ``(N, 3, H, W)`` → ``(cube (N, bands, H, W), abundances (N, N_g, H, W), t (bands,))``."""
        out = self.decompose(rgb)
        return out.cube, out.abundances, out.t

    def decompose(self, rgb: torch.Tensor) -> INSSOutput:
        """One pass returning the cube with its linear part, abundances and t (see :class:`INSSOutput`)."""
        n, _, height, width = rgb.shape
        m = self.pad_multiple
        pad_h, pad_w = (-height) % m, (-width) % m
        if pad_h or pad_w:
            rgb = F.pad(rgb, (0, pad_w, 0, pad_h), mode="replicate")
        logits, features = self.abundance_net(rgb)
        if self.abundance_prior is not None:
            logits = logits + self.prior_log_abundances(rgb)
        abundances = torch.softmax(logits, dim=1)
        hp, wp = rgb.shape[2], rgb.shape[3]
        d = self.cell
        rows, cols = hp // d, wp // d
        # Cell layout: (N·rows·cols, D², channels), the pixels of one cell sharing one set of MLP parameters (eq. 6).
        alpha = abundances.reshape(n, -1, rows, d, cols, d).permute(0, 2, 4, 3, 5, 1)
        alpha = alpha.reshape(n * rows * cols, d * d, -1)
        linear = (alpha @ self.library) * self.t  # eq. 2 (noise-free)
        cube = linear
        if self.transform is not None:
            feature = features[int(math.log2(d))]
            params = self.transform(feature.detach() if self.detach_features else feature)
            params = params.permute(0, 2, 3, 1).reshape(n * rows * cols, self.order - 1, self.params_per_mlp)
            encoding = cell_positional_encoding(d, rgb.device).expand(alpha.shape[0], -1, -1)
            mlp_input = torch.cat([alpha, encoding], dim=2)
            reflection = linear
            for k in range(self.order - 1):
                reflection = reflection * self._mixing_response(mlp_input, params[:, k])  # eq. 4
                cube = cube + reflection  # eq. 5
        return INSSOutput(
            cube=self._to_image(cube, n, rows, cols)[:, :, :height, :width],
            linear=self._to_image(linear, n, rows, cols)[:, :, :height, :width],
            abundances=abundances[:, :, :height, :width],
            t=self.t,
        )

    def prior_log_abundances(self, rgb: torch.Tensor) -> torch.Tensor:
        """``log`` of the closed-form abundances ``(N, N_g, H, W)`` of RGB ``(N, 3, H, W)``: the prior's map, the shade
        spectrum (if any) completing the sum to one, clipped at ``PRIOR_FLOOR`` and normalised to sum one per pixel."""
        prior = self.abundance_prior
        if prior is None or not bool(prior.fitted):
            raise ConfigError("inss: the abundance prior has not been fitted: train the model (hsinr train) first")
        abundances = prior(rgb).clamp_min(PRIOR_FLOOR)
        if self.shade is not None:
            materials = abundances.sum(1, keepdim=True) - abundances[:, self.shade : self.shade + 1]
            shade = (1.0 - materials).clamp_min(PRIOR_FLOOR)
            abundances = torch.cat([abundances[:, : self.shade], shade, abundances[:, self.shade + 1 :]], dim=1)
        return torch.log(abundances / abundances.sum(1, keepdim=True))

    def fit_prior(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Fit the abundance prior on training ``(rgb (H, W, 3), cube (H, W, bands))`` pairs: every pixel's spectrum
        (at most ``PRIOR_PIXELS`` per pair, evenly spaced) unmixed onto the library by non-negative least squares
        (:func:`scipy.optimize.nnls`), then the root-polynomial map from RGB to those abundances by least squares.
        Nothing to do without a prior."""
        from scipy.optimize import nnls

        if self.abundance_prior is None:
            return
        library = self.library.double().numpy()
        rgb_rows, abundance_rows = [], []
        for rgb, cube in pairs:
            rgb = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
            spectra = np.asarray(cube, dtype=np.float64).reshape(len(rgb), -1)
            keep = np.linspace(0, len(rgb) - 1, min(len(rgb), PRIOR_PIXELS)).round().astype(int)
            rgb_rows.append(rgb[keep])
            abundance_rows.append(np.stack([nnls(library.T, spectrum)[0] for spectrum in spectra[keep]]))
        if not rgb_rows:
            raise DataError("inss: no training pairs to fit the abundance prior on")
        self.abundance_prior.fit(np.concatenate(rgb_rows), np.concatenate(abundance_rows))

    def _mixing_response(self, mlp_input: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """x^k of eq. 4: the per-cell MLP ``(in → hidden → N_g → bands)`` with output weights R, 0.1·tanh.

        Args:
            mlp_input: ``(cells, D², N_g + 4 log2 D)``.
            params: ``(cells, params_per_mlp)``: W1 (in × hidden), b1, W2 (hidden × N_g), b2, in that order.
        """
        n_in, n_h, n_g = self.mlp_inputs, self.hidden, self.library.shape[0]
        cells = params.shape[0]
        w1, b1, w2, b2 = torch.split(params, [n_in * n_h, n_h, n_h * n_g, n_g], dim=1)
        h = F.leaky_relu(mlp_input @ w1.reshape(cells, n_in, n_h) + b1[:, None], LEAKY_SLOPE)
        h = F.leaky_relu(h @ w2.reshape(cells, n_h, n_g) + b2[:, None], LEAKY_SLOPE)
        return RESPONSE_SCALE * torch.tanh(h @ self.library)

    def _to_image(self, cells: torch.Tensor, n: int, rows: int, cols: int) -> torch.Tensor:
        """Cell layout ``(N·rows·cols, D², C)`` → image ``(N, C, rows·D, cols·D)``."""
        d = self.cell
        x = cells.reshape(n, rows, cols, d, d, -1).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(n, -1, rows * d, cols * d)


@register("inss")
def build_inss(
    library: list[list[float]],
    order: int = 3,
    cell: int = 16,
    widths: list[int] = (32, 64, 96, 128, 128, 128),
    hidden: int = 32,
    transform_width: int = 64,
    detach_features: bool = False,
    library_names: list[str] | None = None,
    library_classes: list[str] | None = None,
    out_bands: int | None = None,
    abundance_prior: dict | None = None,
) -> INSS:
    """Build :class:`INSS` from JSON-able arguments; inconsistent values raise :class:`ConfigError`.

    ``library`` is stored in the checkpoint spec so that a checkpoint is self-describing; ``library_names`` and
    ``library_classes`` (one string per spectrum) label the abundance maps written by ``hsinr synthesize``.
    ``out_bands``, when given, must equal the library's band count (the library fixes the output bands).
    ``abundance_prior``: ``{degree: d}`` (``d`` = 1, 2 or 3) for the closed-form abundance prior, ``None`` for none.
    """
    spectra = torch.as_tensor(library, dtype=torch.float32)
    if spectra.ndim != 2 or spectra.shape[0] < 1 or spectra.shape[1] < 1:
        raise ConfigError(f"inss: library must be a non-empty list of spectra (N_g, bands), got {tuple(spectra.shape)}")
    if not torch.isfinite(spectra).all():
        raise ConfigError("inss: library holds NaN/Inf values")
    if out_bands is not None and out_bands != spectra.shape[1]:
        raise ConfigError(f"inss: out_bands={out_bands} but the library spectra have {spectra.shape[1]} bands")
    if order < 1:
        raise ConfigError(f"inss: order must be >= 1, got {order}")
    if cell < 2 or cell & (cell - 1):
        raise ConfigError(f"inss: cell must be a power of two >= 2, got {cell}")
    if len(widths) - 1 < int(math.log2(cell)) + 1:
        raise ConfigError(
            f"inss: {len(widths)} U-Net levels halve the image {len(widths) - 1} times; cell={cell} needs at least "
            f"{int(math.log2(cell)) + 2} levels"
        )
    prior_degree = None
    if abundance_prior is not None:
        settings = abundance_prior if isinstance(abundance_prior, dict) else {"": abundance_prior}
        prior_degree = settings.get("degree", 2)
        if set(settings) - {"degree"} or prior_degree not in (1, 2, 3):
            raise ConfigError(f"inss: abundance_prior must be {{degree: 1, 2 or 3}}, got {abundance_prior}")
    for label, values in (("library_names", library_names), ("library_classes", library_classes)):
        if values is not None and len(values) != spectra.shape[0]:
            raise ConfigError(f"inss: {len(values)} {label} for {spectra.shape[0]} library spectra")
    return INSS(
        spectra,
        order,
        cell,
        tuple(widths),
        hidden,
        transform_width,
        detach_features,
        list(library_names) if library_names is not None else None,
        list(library_classes) if library_classes is not None else None,
        prior_degree,
    )
