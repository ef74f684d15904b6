"""Anchored neighbourhood regression from RGB to spectra: one root-polynomial map per colour direction (A+ style).

Reference: J. Aeschbacher, J. Wu, R. Timofte, "In defense of shallow learned spectral reconstruction from RGB
images", ICCV Workshops 2017 (A+ adapted to spectral reconstruction: anchors in colour space, each with a ridge
regression fitted on the training samples nearest to it); root-polynomial terms as in :mod:`.least_squares`
(Finlayson et al., IEEE TIP 2015).

One global least-squares map (:mod:`.least_squares`) must serve every material at once. Here the colour space is
split by direction: ``K`` anchors ``a_k`` (unit vectors in RGB, spherical k-means over the training pixels' RGB
directions ``x / ‖x‖``), and each anchor has its own root-polynomial map ``W_k`` (``T × C``), fitted on the ``M``
training pixels whose directions are closest to ``a_k`` (cosine) and shrunk towards the global map ``W_g``:

    W_k = argmin_W ‖Φ_k W − Y_k‖² / M + λ s_k ‖W − W_g‖²,    s_k = tr(Φ_kᵀ Φ_k / M) / T,

so ``shrinkage`` λ is relative to the neighbourhood's feature energy. A pixel ``x`` uses the map of its nearest
anchor, ``y = φ(x) W_{k*}``, ``k* = argmax_k ⟨x / ‖x‖, a_k⟩``. The anchor depends on the direction of ``x`` only and
``φ`` is homogeneous of degree 1, so the model keeps least squares' exposure invariance: ``f(c x) = c f(x)``.

Fitting (:meth:`AnchoredLeastSquares.fit_prior`, one pass over the training pairs, one pair in memory at a time):
the global map's normal equations over all pixels, plus ``samples_per_image`` random pixels of mean RGB above
``dark`` from each image (seeded) for the anchors and neighbourhoods. The anchors and the ``K`` maps are buffers,
stored in checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from .least_squares import RootPolynomialLeastSquares
from .registry import register


def unit_directions(rgb: np.ndarray) -> np.ndarray:
    """``(P, 3)`` RGB → ``(P, 3)`` unit vectors ``x / ‖x‖`` (float64; black pixels give zero vectors)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb / np.maximum(np.linalg.norm(rgb, axis=1, keepdims=True), 1e-12)


def spherical_kmeans(directions: np.ndarray, count: int, seed: int, iterations: int = 30) -> np.ndarray:
    """``count`` unit vectors clustering ``directions (P, 3)`` by cosine similarity (k-means++ start, Lloyd steps
    on the sphere; an empty cluster keeps its centre). Returns ``(count, 3)``."""
    rng = np.random.default_rng(seed)
    centres = [directions[rng.integers(len(directions))]]
    closest = 1.0 - directions @ centres[0]
    for _ in range(count - 1):  # k-means++: draw far points with probability ∝ (1 − cosine)²
        weights = np.maximum(closest, 0.0) ** 2
        total = weights.sum()
        pick = rng.choice(len(directions), p=weights / total) if total > 0 else rng.integers(len(directions))
        centres.append(directions[pick])
        closest = np.minimum(closest, 1.0 - directions @ directions[pick])
    centres_array = np.stack(centres)
    for _ in range(iterations):
        labels = np.argmax(directions @ centres_array.T, axis=1)
        sums = np.zeros_like(centres_array)
        np.add.at(sums, labels, directions)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        updated = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centres_array)
        if np.allclose(updated, centres_array):
            break
        centres_array = updated
    return centres_array


@register("anchored_ls")
class AnchoredLeastSquares(nn.Module):
    """``(N, 3, H, W)`` linear RGB → ``(N, out_bands, H, W)``: the root-polynomial map of the nearest colour anchor.

    Args:
        out_bands: spectral bands ``C``.
        degree: root-polynomial degree of each map (2: 6 terms, 3: 13).
        anchors: ``K``, the number of colour directions (≥ 1; 1 is the global map's neighbourhood fit).
        neighbours: ``M``, training pixels per anchor's regression.
        shrinkage: λ, pull of each anchor's map towards the global map (≥ 0, relative to its features' energy).
        samples_per_image: random pixels taken from each training image for the anchors and neighbourhoods.
        dark: pixels of mean RGB at or below this are not sampled (their direction is noise).
        seed: seeds the sampling and the k-means start, so a fit is reproducible.
    """

    input_keys = ("rgb",)
    closed_form = True

    anchor_directions: torch.Tensor  # (K, 3) float64 unit vectors
    maps: torch.Tensor  # (K, T, C) float64
    fitted: torch.Tensor  # bool

    def __init__(
        self,
        out_bands: int = 31,
        degree: int = 2,
        anchors: int = 128,
        neighbours: int = 4096,
        shrinkage: float = 0.01,
        samples_per_image: int = 8192,
        dark: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if anchors < 1 or neighbours < 1 or samples_per_image < 1:
            raise ConfigError(
                f"anchored_ls: anchors, neighbours and samples_per_image must be ≥ 1, got {anchors}, {neighbours}, "
                f"{samples_per_image}"
            )
        if shrinkage < 0 or dark < 0:
            raise ConfigError(f"anchored_ls: shrinkage and dark must be ≥ 0, got {shrinkage}, {dark}")
        self.global_map = RootPolynomialLeastSquares(out_bands, degree)  # also gives the expansion φ
        self.out_bands, self.count, self.neighbours = out_bands, int(anchors), int(neighbours)
        self.shrinkage, self.samples_per_image, self.dark, self.seed = float(shrinkage), samples_per_image, dark, seed
        terms = self.global_map.terms
        self.register_buffer("anchor_directions", torch.zeros(anchors, 3, dtype=torch.float64))
        self.register_buffer("maps", torch.zeros(anchors, terms, out_bands, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    def fit_prior(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Fit the anchors and their maps on ``(rgb (H, W, 3), cube (H, W, C))`` training pairs (see the module
        docstring)."""
        rng = np.random.default_rng(self.seed)
        terms = self.global_map.terms
        xtx, xty, pixels = np.zeros((terms, terms)), np.zeros((terms, self.out_bands)), 0
        sampled_rgb, sampled_cube = [], []
        for index, (rgb, cube) in enumerate(pairs):
            rgb_pixels = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
            cube_pixels = np.asarray(cube, dtype=np.float64).reshape(len(rgb_pixels), -1)
            try:
                pair_xtx, pair_xty = self.global_map.normal_equations(rgb_pixels, cube_pixels)
            except DataError as exc:
                raise DataError(f"pair {index}: {exc}") from None
            xtx, xty, pixels = xtx + pair_xtx, xty + pair_xty, pixels + len(rgb_pixels)
            bright = np.flatnonzero(rgb_pixels.mean(axis=1) > self.dark)
            chosen = rng.choice(bright, min(self.samples_per_image, len(bright)), replace=False)
            sampled_rgb.append(rgb_pixels[chosen])
            sampled_cube.append(cube_pixels[chosen])
        self.global_map.solve(xtx, xty, pixels)
        rgb_samples, cube_samples = np.concatenate(sampled_rgb), np.concatenate(sampled_cube)
        if len(rgb_samples) < self.count:
            raise DataError(f"anchored_ls: {len(rgb_samples)} bright training pixels for {self.count} anchors")
        directions = unit_directions(rgb_samples)
        anchors = spherical_kmeans(directions, self.count, self.seed)
        features = self.global_map.expand(torch.from_numpy(rgb_samples)).numpy()
        global_map = self.global_map.matrix.numpy()
        neighbours = min(self.neighbours, len(directions))
        maps = np.empty((self.count, terms, self.out_bands))
        for k, anchor in enumerate(anchors):
            nearest = np.argpartition(-(directions @ anchor), neighbours - 1)[:neighbours]
            phi, target = features[nearest], cube_samples[nearest]
            gram = phi.T @ phi / neighbours
            pull = self.shrinkage * np.trace(gram) / terms
            maps[k] = np.linalg.lstsq(gram + pull * np.eye(terms), phi.T @ target / neighbours + pull * global_map)[0]
        self.anchor_directions.copy_(torch.from_numpy(anchors))
        self.maps.copy_(torch.from_numpy(maps))
        self.fitted.fill_(True)

    def nearest_anchor(self, rgb: torch.Tensor, rows: int = 64) -> torch.Tensor:
        """``(N, 3, H, W)`` → ``(N, H, W)`` index of each pixel's anchor (highest cosine similarity), computed
        ``rows`` image rows at a time so that the ``(…, K)`` similarities of a large tile are never all in memory
        (in one piece when exported to ONNX, whose graph must not depend on the image size)."""
        directions = self.anchor_directions.to(torch.promote_types(rgb.dtype, torch.float32))
        blocks = [rgb.to(directions.dtype)]
        if not torch.onnx.is_in_onnx_export():
            blocks = list(blocks[0].split(rows, dim=2))
        return torch.cat([torch.einsum("nchw,kc->nhwk", b, directions).argmax(dim=-1) for b in blocks], dim=1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise ConfigError("AnchoredLeastSquares has not been fitted: train it (hsinr train) or call fit_prior()")
        dtype = torch.promote_types(rgb.dtype, torch.float32)
        features = self.global_map.expand(rgb.permute(0, 2, 3, 1).to(dtype))  # (N, H, W, T)
        anchor = self.nearest_anchor(rgb)  # (N, H, W)
        maps = self.maps.to(dtype)
        # y = Σ_t φ_t W[k*, t, :]: one lookup of a (C,) row per term, never a (T, C) map per pixel in memory
        out = features[..., :1] * F.embedding(anchor, maps[:, 0])
        for t in range(1, maps.shape[1]):
            out += features[..., t : t + 1] * F.embedding(anchor, maps[:, t])
        return out.permute(0, 3, 1, 2).to(rgb.dtype)

    def extra_macs(self, height: int, width: int) -> int:
        """Multiply-accumulates per image: the anchor similarities and one ``T × C`` map per pixel."""
        return height * width * (3 * self.count + self.global_map.terms * self.out_bands)
