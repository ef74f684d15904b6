"""INR-HSISR: RGB → hyperspectral reconstruction with a hypernetwork that predicts a grid of pixel-wise MLPs.

Zhang et al., *Implicit Neural Representation Learning for Hyperspectral Image Super-Resolution*, IEEE TGRS 61
(2022), Sections III-A to III-C (``../shared/papers/000_f4822a8502ed7be0.txt``).

    Ŷ(p) = f(X_p, γ(p); θ_cell(p)),   θ = H(X)                                  (eq. 6, 9, 10)

* **Hypernetwork H** (Fig. 2–3): a 3×3 stem, ``log2(cell_size)`` stride-2 3×3 convolutions that reduce the image to
  one feature vector per cell, a 3×3 lift to ``hyper_width`` channels, an *estimator block* of ``hyper_blocks``
  3×3 convolutions each followed by a spatially-adaptive normalisation and ReLU, and a 1×1 convolution that emits,
  for every cell, all weights and biases of the MLP (eq. 10).
* **Spatially-adaptive normalisation** (SPADE-style, Sec. III-C): ``x̂·(1 + γ(c)) + β(c)`` where ``x̂`` is ``x``
  normalised by its mean and standard deviation and ``γ, β`` are 1×1 convolutions of the downsampled stem features
  ``c``. The statistics are *local*: taken over a ``norm_window``-cell square window around each cell (clipped at the
  image border). With the default window (15 cells ≈ a 64×64 training patch at 4-pixel cells) training patches see
  almost exactly instance normalisation, while the network's output at a pixel depends only on a bounded
  neighbourhood — so tiled inference of any image equals the whole-image pass (see :meth:`receptive_radius`).
  ``norm="instance"`` gives the whole-image statistics literally; ``norm="none"`` drops the normalisation.
* **Pixel-wise MLP f** (eq. 9): input ``[X_p, γ(p)]`` (3 + 4N values), ``mlp_hidden_layers`` hidden layers of
  ``mlp_width`` with Leaky-ReLU(0.1), ``out_bands`` outputs, no output activation. Every pixel of a cell uses that
  cell's θ.
* **Periodic spatial encoding γ** (eq. 7–8): ``cos/sin(2^k π x), cos/sin(2^k π y)``, k = 0…N−1. ``N = 0`` feeds the raw
  coordinates (x, y) instead (Table III "w/o"). Coordinates are, by default, *cell-relative*: the pixel centre's
  position inside its cell, in (0, 1). Each cell has its own MLP, so only the position inside the cell can
  distinguish its pixels; cell-relative coordinates are identical for 64×64 training patches and full-size images
  and for tiles and whole images. ``coords="image"`` follows the paper literally (centres normalised to the whole
  image, (0, 1)²); tiles then pass their offset and the full size.

The paper's grid size S (Table II: S = 2, 4, 8, 16 with 5, 4, 3, 2 downsampling layers on 64×64 patches) is the number
of cells per side of a training patch: ``cell_size = 64 / S`` pixels (S = 16 → 4-pixel cells).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register

NORMS = ("local", "instance", "none")
COORDS = ("cell", "image")
ENCODINGS = ("bandlimited", "paper")
HEAD_INITS = ("shared", "paper")
PADDINGS = ("zeros", "reflect", "replicate")


def encoding_frequencies(frequencies: int, cell_size: int, kind: str = "bandlimited") -> list[float]:
    """Angular frequencies ω_k (radians per unit coordinate) of the N = ``frequencies`` encoding pairs.

    * ``"paper"`` (eq. 7–8 literally): ``ω_k = 2^k π``, k = 0…N−1. With cell-relative coordinates (``c`` pixels per
      unit) every ``2^k ≥ c`` lands on or above the sampling rate of the cell's pixels: the channel is constant or a
      ±1 checkerboard, so on 4-pixel cells N = 5 carries no more information than N = 3.
    * ``"bandlimited"`` (default): the same lowest frequency ``π`` (half a cycle per unit), then N−1 geometric steps
      up to 0.9 × the Nyquist rate of ``cell_size`` samples (``0.9 c π``), so every channel varies over the pixels
      of a cell and no two channels alias onto each other. Identical to ``"paper"`` for N = 1.
    """
    if kind == "paper" or frequencies <= 1:
        return [(2.0**k) * math.pi for k in range(frequencies)]
    top = max(0.9 * cell_size, 1.0)
    return [math.pi * top ** (k / (frequencies - 1)) for k in range(frequencies)]


def periodic_encoding(x: torch.Tensor, y: torch.Tensor, omegas: list[float]) -> torch.Tensor:
    """Eq. 7–8: γ(p) = [cos(ω_k x), sin(ω_k x), cos(ω_k y), sin(ω_k y)] for each ω_k (see
    :func:`encoding_frequencies`; the paper's ω_k = 2^k π).

    Args:
        x, y: coordinates of the same shape ``(...)``, normally in (0, 1).
        omegas: angular frequencies; an empty list returns the raw coordinates ``[x, y]`` (Table III "w/o").

    Returns:
        ``(4N, ...)`` (or ``(2, ...)`` for N = 0), ordered by frequency k, then (cos x, sin x, cos y, sin y).
    """
    if not omegas:
        return torch.stack([x, y])
    features = []
    for w in omegas:
        features += [torch.cos(w * x), torch.sin(w * x), torch.cos(w * y), torch.sin(w * y)]
    return torch.stack(features)


def encoding_channels(frequencies: int) -> int:
    """Number of values γ(p) adds to each pixel: 4N, or 2 raw coordinates when N = 0."""
    return 4 * frequencies if frequencies > 0 else 2


class LocalStatsNorm(nn.Module):
    """Spatially-adaptive normalisation: ``x̂ · (1 + γ(c)) + β(c)``.

    ``x̂`` subtracts the mean and divides by the standard deviation of each channel, taken over a ``window``×``window``
    neighbourhood (``mode="local"``, clipped at the border), over the whole map (``"instance"``), or not at all
    (``"none"``, then only the modulation is applied).
    """

    def __init__(self, channels: int, cond_channels: int, mode: str = "local", window: int = 15, eps: float = 1e-5):
        super().__init__()
        if mode not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {mode!r}")
        if mode == "local" and (window < 3 or window % 2 == 0):
            # A 1-cell window normalises every value by itself: x − mean = 0, so the estimator would output zeros.
            raise ValueError(f"norm_window must be an odd number of cells ≥ 3, got {window}")
        self.mode, self.window, self.eps = mode, window, eps
        self.gamma = nn.Conv2d(cond_channels, channels, 1)
        self.beta = nn.Conv2d(cond_channels, channels, 1)

    def _local_mean(self, x: torch.Tensor) -> torch.Tensor:
        r = self.window // 2
        # A separable box filter; count_include_pad=False clips the window at the map border.
        x = F.avg_pool2d(x, (1, self.window), stride=1, padding=(0, r), count_include_pad=False)
        return F.avg_pool2d(x, (self.window, 1), stride=1, padding=(r, 0), count_include_pad=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()  # statistics in float32 even under mixed precision (variance of large activations)
        if self.mode == "local":
            mean, mean_square = self._local_mean(torch.cat([x, x * x], dim=1)).chunk(2, dim=1)  # one filter pass
            var = (mean_square - mean * mean).clamp_min(0.0)
            x = (x - mean) / torch.sqrt(var + self.eps)
        elif self.mode == "instance":
            x = F.instance_norm(x, eps=self.eps)
        return (x * (1.0 + self.gamma(cond).float()) + self.beta(cond).float()).to(dtype)


#: Pixels per band of cell rows for which the head and the MLPs are evaluated at once during inference (their
#: activations: ~P / cell² + 2·mlp_width floats per pixel, 2.3 KiB per pixel of the recipe's 8-px cells).
MLP_CHUNK_PIXELS = 1 << 16
#: Whole images up to this many pixels (512²) are evaluated in one pass without ``core``.
ONE_PASS_PIXELS = 1 << 18


@register("inr_hsisr")
class INRHSISR(nn.Module):
    """The INR-HSISR model: RGB ``(N, 3, H, W)`` in [0, 1] → HSI ``(N, out_bands, H, W)``, any H, W.

    Args:
        out_bands: spectral bands produced (31 for 400–700 nm every 10 nm).
        cell_size: pixels per side of a parameter-grid cell, a power of two (paper's S = 64 / cell_size).
        frequencies: N of the periodic encoding (0 = raw coordinates).
        coords: ``"cell"`` (cell-relative, default) or ``"image"`` (normalised to the whole image).
        mlp_width, mlp_hidden_layers: width and number of hidden layers of the pixel-wise MLP.
        hyper_width, hyper_blocks: channels and number of 3×3 conv blocks of the estimator.
        stem_width: channels of the stem and downsampling convolutions.
        norm, norm_window: normalisation of the estimator (see module docstring); window in cells, odd.
        rgb_gain: factor on the RGB values fed to the MLP (not to the hypernetwork). Linear camera RGB averages
            ≈ 0.1, while γ(p) has unit amplitude; the gain balances them. It only re-parameterises the RGB columns of
            the first predicted weight matrix (capacity is unchanged) but makes training converge several times
            faster (80 Adam steps on synthetic scenes: 22 dB → 31 dB PSNR with gain 5). ``1.0`` is the paper-literal
            input.
        encoding: ``"bandlimited"`` (every channel informative at this cell size) or ``"paper"`` (ω_k = 2^k π); see
            :func:`encoding_frequencies`.
        head_init: ``"shared"`` (every cell starts from one well-scaled MLP, small 1×1 head weights) or ``"paper"``
            (PyTorch's default initialisation of the 1×1 head).
        head_scaling: ``"width"`` (the head's weights are multiplied by ``min(1, 64 / hyper_width)``, muP-style, so
            wide hypernetworks train at the learning rates of narrow ones) or ``"none"`` (paper-literal).
        padding: padding of the hypernetwork's 3×3 convolutions: ``"zeros"`` (paper) or ``"reflect"`` /
            ``"replicate"``, which make the border of a 64-pixel training patch look like image content instead of
            black, so that patches and whole images give the estimator the same statistics.
    """

    core_output = True  # forward(..., core=...) returns only a region (exact halo tiling skips the halo's MLPs)

    input_keys = ("rgb",)

    def __init__(
        self,
        out_bands: int = 31,
        cell_size: int = 4,
        frequencies: int = 5,
        coords: str = "cell",
        mlp_width: int = 64,
        mlp_hidden_layers: int = 4,
        hyper_width: int = 1024,
        hyper_blocks: int = 5,
        stem_width: int = 64,
        norm: str = "local",
        norm_window: int = 15,
        rgb_gain: float = 5.0,
        encoding: str = "bandlimited",
        head_init: str = "shared",
        head_scaling: str = "width",
        padding: str = "zeros",
    ):
        super().__init__()
        if cell_size < 1 or cell_size & (cell_size - 1):
            raise ValueError(f"cell_size must be a power of two, got {cell_size}")
        if coords not in COORDS:
            raise ValueError(f"coords must be one of {COORDS}, got {coords!r}")
        for value, allowed, key in (
            (encoding, ENCODINGS, "encoding"),
            (head_init, HEAD_INITS, "head_init"),
            (head_scaling, ("width", "none"), "head_scaling"),
            (padding, PADDINGS, "padding"),
        ):
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        if frequencies < 0 or mlp_hidden_layers < 1:
            raise ValueError("frequencies must be ≥ 0 and mlp_hidden_layers ≥ 1")
        self.out_bands, self.cell_size, self.frequencies, self.coords = out_bands, cell_size, frequencies, coords
        self.norm, self.norm_window, self.hyper_blocks, self.padding = norm, norm_window, hyper_blocks, padding
        self.rgb_gain = float(rgb_gain)
        self.omegas = encoding_frequencies(frequencies, cell_size if coords == "cell" else 64, encoding)
        self.downsampling_layers = int(math.log2(cell_size))

        pad = {"padding": 1, "padding_mode": padding}
        self.stem = nn.Conv2d(3, stem_width, 3, **pad)
        self.down = nn.ModuleList(
            nn.Conv2d(stem_width, stem_width, 3, stride=2, **pad) for _ in range(self.downsampling_layers)
        )
        self.lift = nn.Conv2d(stem_width, hyper_width, 3, **pad)
        self.blocks = nn.ModuleList(nn.Conv2d(hyper_width, hyper_width, 3, **pad) for _ in range(hyper_blocks))
        self.norms = nn.ModuleList(
            LocalStatsNorm(hyper_width, stem_width, norm, norm_window) for _ in range(hyper_blocks)
        )

        in_features = 3 + encoding_channels(frequencies)
        sizes = [in_features] + [mlp_width] * mlp_hidden_layers + [out_bands]
        self.layer_shapes = list(zip(sizes[:-1], sizes[1:], strict=True))  # (fan_in, fan_out) of each MLP layer
        self.mlp_parameters = sum(i * o + o for i, o in self.layer_shapes)
        self.head = nn.Conv2d(hyper_width, self.mlp_parameters, 1)
        # Width-aware multiplier on the head's weights (as in muP): Adam moves every weight by about the learning
        # rate, so a 1024-wide head would change each predicted MLP weight 16x faster than a 64-wide one and diverge
        # at learning rates the small models need. Scaling by 64/width keeps the step size independent of the width.
        self.head_multiplier = min(1.0, 64.0 / hyper_width) if head_scaling == "width" else 1.0
        if head_init == "shared":
            self._init_head()

    def zero_output(self) -> None:
        """Make the model output exactly zero at the start (the learned residual over a prior starts at the prior):
        the head's weights and biases that produce the MLP's last layer are zeroed. The gradient still reaches them
        (it is the last hidden activation), so training moves away from zero at once."""
        fan_in, fan_out = self.layer_shapes[-1]
        last = fan_in * fan_out + fan_out
        with torch.no_grad():
            self.head.weight[-last:].zero_()
            self.head.bias[-last:].zero_()

    def _init_head(self) -> None:
        """Start every cell from the same well-scaled MLP: the head's bias holds unit-variance weights (scaled by
        1/sqrt(fan_in) in :meth:`evaluate_mlps`) and zero biases; its 1×1 weights start small, so the hypernetwork
        first learns a shared mapping and then how the image should modulate it. The stored weights are divided by
        the head multiplier so that the effective weights start equally small for every width."""
        with torch.no_grad():
            self.head.weight.mul_(0.1 / self.head_multiplier)
            parts = []
            for fan_in, fan_out in self.layer_shapes:
                parts += [torch.empty(fan_in * fan_out).uniform_(-math.sqrt(3), math.sqrt(3)), torch.zeros(fan_out)]
            self.head.bias.copy_(torch.cat(parts))

    # ----------------------------------------------------------------------------------------------------------------
    def hypernetwork(self, rgb: torch.Tensor) -> torch.Tensor:
        """H(X) (eq. 6, 10): ``(N, 3, H, W)`` with H, W multiples of ``cell_size`` → θ ``(N, H/c, W/c, P)``."""
        return self.head_parameters(self.cell_features(rgb))

    def cell_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """The hypernetwork's trunk: ``(N, 3, H, W)`` → ``(N, hyper_width, H/c, W/c)`` features of every cell."""
        cond = F.relu(self.stem(rgb), inplace=True)  # in place: a full-resolution activation is not held twice
        for conv in self.down:
            cond = F.relu(conv(cond), inplace=True)
        x = F.relu(self.lift(cond), inplace=True)
        for conv, norm in zip(self.blocks, self.norms, strict=True):
            x = F.relu(norm(conv(x), cond), inplace=True)
        return x

    def head_parameters(self, features: torch.Tensor) -> torch.Tensor:
        """The 1×1 head: cell features ``(N, hyper_width, h, w)`` → every cell's MLP parameters θ ``(N, h, w, P)``.

        Computed as a matrix product over channels-last features, so each cell's P parameters come out contiguous:
        the batched products of :meth:`evaluate_mlps` then read every cell's weight matrices in place (with θ
        channels-first they were gathered cell by cell, ~3× the time of those products)."""
        weight = self.head.weight.flatten(1) * self.head_multiplier
        return F.linear(features.permute(0, 2, 3, 1), weight, self.head.bias)

    def pixel_inputs(
        self, rgb: torch.Tensor, origin: tuple[int, int] = (0, 0), full_size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """``[g·X_p, γ(p)]`` for every pixel: ``(N, 3 + 4N_f, H, W)``; coordinates computed for this call's size."""
        n, _, h, w = rgb.shape
        dev, dt = rgb.device, rgb.dtype
        if self.coords == "cell":
            c = self.cell_size
            ys = ((torch.arange(h, device=dev, dtype=dt) + origin[0]) % c + 0.5) / c
            xs = ((torch.arange(w, device=dev, dtype=dt) + origin[1]) % c + 0.5) / c
        else:
            full_h, full_w = full_size or (h, w)
            ys = (torch.arange(h, device=dev, dtype=dt) + origin[0] + 0.5) / full_h
            xs = (torch.arange(w, device=dev, dtype=dt) + origin[1] + 0.5) / full_w
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        enc = periodic_encoding(grid_x, grid_y, self.omegas)
        return torch.cat([rgb * self.rgb_gain, enc.unsqueeze(0).expand(n, -1, -1, -1)], dim=1)

    def evaluate_mlps(self, inputs: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """f(·; θ_cell) (eq. 9) on every pixel of every cell with one batched matrix product per layer.

        Args:
            inputs: ``(N, F, H, W)`` per-pixel MLP inputs, H, W multiples of ``cell_size``.
            theta: ``(N, H/c, W/c, P)`` MLP parameters of each cell (:meth:`head_parameters`).
        Returns:
            ``(N, out_bands, H, W)``.
        """
        n, f, h, w = inputs.shape
        c = self.cell_size
        gh, gw = h // c, w // c
        # (N, F, gh, c, gw, c) → (N·gh·gw, c·c, F): the pixels of one cell form one row block.
        x = inputs.reshape(n, f, gh, c, gw, c).permute(0, 2, 4, 3, 5, 1).reshape(n * gh * gw, c * c, f)
        # One split into every layer's weights and biases (its backward is one concatenation; a slice per tensor
        # would allocate and zero a θ-sized gradient for each of them).
        sizes = [size for fan_in, fan_out in self.layer_shapes for size in (fan_in * fan_out, fan_out)]
        pieces = theta.reshape(n * gh * gw, -1).split(sizes, dim=1)
        last = len(self.layer_shapes) - 1
        for index, (fan_in, fan_out) in enumerate(self.layer_shapes):
            weight = pieces[2 * index].reshape(-1, fan_in, fan_out)
            bias = pieces[2 * index + 1].unsqueeze(1)
            # Scale by 1/sqrt(fan_in) so that predicted weights of unit size give unit-size activations.
            x = torch.baddbmm(bias, x, weight, alpha=fan_in**-0.5)
            if index < last:
                x = F.leaky_relu_(x, 0.1)
        return x.reshape(n, gh, gw, c, c, self.out_bands).permute(0, 5, 1, 3, 2, 4).reshape(n, -1, h, w)

    def forward(
        self,
        rgb: torch.Tensor,
        origin: tuple[int, int] = (0, 0),
        full_size: tuple[int, int] | None = None,
        core: tuple[int, int, int, int] | None = None,
    ) -> torch.Tensor:
        """Reconstruct ``(N, out_bands, H, W)`` from ``(N, 3, H, W)``.

        Sizes that are not multiples of ``cell_size`` (or, with reflection padding, smaller than two cells) are padded
        (edge replication) and cropped back. ``origin`` and ``full_size`` place a tile inside a larger image (used by
        tiled inference; only ``coords="image"`` and the cell phase depend on them). ``origin`` must be a multiple of
        ``cell_size``.

        ``core = (top, left, height, width)``: return only that region ``(N, out_bands, height, width)`` of the
        output (``top``, ``left`` multiples of ``cell_size``). The trunk still sees the whole input, but the head and
        the pixel-wise MLPs — more than a third of the work of the efficient configuration — run only on the core's
        cells, so a halo tile pays for its halo in the trunk alone. Equal to cropping the full output.
        """
        h, w = rgb.shape[-2:]
        c = self.cell_size
        # Reflection needs two cells in each direction (a 1-cell map cannot be reflected in the hypernetwork).
        min_side = 2 * c if self.padding == "reflect" else c
        pad_h = (-h) % c if h >= min_side else min_side - h
        pad_w = (-w) % c if w >= min_side else min_side - w
        if pad_h or pad_w:
            rgb = F.pad(rgb, (0, pad_w, 0, pad_h), mode="replicate")
        if core is None and (torch.is_grad_enabled() or h * w <= ONE_PASS_PIXELS):  # one pass (and export graph)
            theta = self.hypernetwork(rgb)
            return self.evaluate_mlps(self.pixel_inputs(rgb, origin, full_size or (h, w)), theta)[..., :h, :w]
        top, left, out_h, out_w = core if core is not None else (0, 0, h, w)
        if top % c or left % c or top < 0 or left < 0 or top + out_h > h or left + out_w > w:
            raise ValueError(f"core {core} must lie inside the {h}x{w} input with origin on the {c}-px cell grid")
        features = self.cell_features(rgb)
        rows = range(top // c, -(-(top + out_h) // c))
        cols = slice(left // c, -(-(left + out_w) // c))
        width = (cols.stop - cols.start) * c
        # Without autograd the head and the MLPs run on bands of cell rows of at most MLP_CHUNK_PIXELS pixels, so
        # their activations (~P floats per cell, 32-64 floats per pixel) stay small whatever the image size.
        step = len(rows) if torch.is_grad_enabled() else max(1, MLP_CHUNK_PIXELS // (c * width))
        out = rgb.new_empty(rgb.shape[0], self.out_bands, len(rows) * c, width)
        for r0 in range(rows.start, rows.stop, step):
            r1 = min(r0 + step, rows.stop)
            theta = self.head_parameters(features[..., r0:r1, cols])
            region = rgb[..., r0 * c : r1 * c, cols.start * c : cols.stop * c]
            inputs = self.pixel_inputs(region, (origin[0] + r0 * c, origin[1] + cols.start * c), full_size or (h, w))
            if step == len(rows):
                return self.evaluate_mlps(inputs, theta)[..., :out_h, :out_w]
            out[..., (r0 - rows.start) * c : (r1 - rows.start) * c, :] = self.evaluate_mlps(inputs, theta)
        return out[..., :out_h, :out_w]

    # ----------------------------------------------------------------------------------------------------------------
    def receptive_radius(self) -> int | None:
        """Pixels of context on each side that determine one output pixel; ``None`` when unbounded (instance norm).

        Conservative count, rounded up to a multiple of ``cell_size``: stem and downsampling convolutions at pixel
        level, then the lift and per estimator block one 3×3 convolution plus, for local normalisation, the window
        radius, all in cells, plus one cell for the pixels' position inside their cell.
        """
        if self.norm == "instance":
            return None
        c = self.cell_size
        pixel_level = 1 + sum(2**i for i in range(self.downsampling_layers))  # stem + strided 3×3 convs
        window = self.norm_window // 2 if self.norm == "local" else 0
        cells = 1 + self.hyper_blocks * (1 + window) + 1  # lift conv, blocks (3×3 conv + window), the cell itself
        radius = pixel_level + cells * c
        return int(math.ceil(radius / c) * c)

    def extra_macs(self, height: int, width: int) -> int:
        """Multiply-accumulates not visible to conv/linear hooks for one H×W image: the pixel-wise MLPs and the
        head (applied with ``F.conv2d`` to include its weight multiplier), one head evaluation per cell."""
        cells = math.ceil(height / self.cell_size) * math.ceil(width / self.cell_size)
        head = cells * self.head.in_channels * self.head.out_channels
        return height * width * sum(i * o for i, o in self.layer_shapes) + head

    @property
    def alignment(self) -> int:
        """Tile origins must be multiples of this many pixels for tiles to reproduce the whole-image pass."""
        return self.cell_size
