"""Spectral super-resolution (RGB → HSI), the task of the INR-HSISR paper and its baselines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..data import PatchDataset, SceneCache, discover
from ..data.augment import Compose, QuantizeSRGB, Relight
from ..data.datasets import ScenePair
from ..errors import ConfigError
from ..infer import reconstruct
from ..losses import make_loss
from ..spectral import resolve_response
from .base import (
    EvalCase,
    complete_spec_from_response,
    config_wavelengths,
    mean_metrics,
    model_input_keys,
    prepare_data_root,
    register_task,
    resolve_split,
    rgb_statistics,
)


class EncodedScenes:
    """The scenes of a :class:`~hsinr.data.SceneCache` with their RGB as the camera file stores it:
    ``"linear"`` (as rendered, eq. 4) or ``"srgb8"`` (clipped, sRGB-encoded, rounded to 8 bits, decoded back to
    linear: what a model sees from a JPEG or 8-bit PNG after ``hsinr reconstruct --input srgb``)."""

    def __init__(self, cache: SceneCache, encoding: str) -> None:
        self.cache, self.encoding = cache, encoding
        self._encoded: dict[str, ScenePair] = {}

    def pairs(self, names) -> list[ScenePair]:
        if self.encoding == "linear":
            return self.cache.pairs(names)
        quantize = QuantizeSRGB(8)
        for pair in self.cache.pairs(names):
            if pair.name not in self._encoded:
                rgb, _ = quantize(pair.rgb, pair.cube, np.random.default_rng(0))
                self._encoded[pair.name] = pair._replace(rgb=rgb)
        return [self._encoded[name] for name in names]


@register_task("spectral_sr")
class SpectralSRTask:
    """RGB → HSI (INR-HSISR and its baselines): L1 loss (eq. 1/11), whole-image validation with the metric contract.

    The RGB of every scene is rendered from its cube with the configured camera response (``data.response``;
    ``rgb = cube @ srf.T``, eq. 4) unless ``data.response`` is ``null``, in which case the dataset's paired RGB files
    are used.
    """

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.run_dir = config, Path(run_dir)
        self.objective = make_loss(config["train"].get("loss") or "l1")  # train.loss, checked now
        data = config["data"]
        kind, root = prepare_data_root(data, self.run_dir)
        self.items = discover(kind, root)
        if data.get("scenes"):  # restrict to the listed scenes (e.g. to keep overlapping crops out)
            wanted = set(data["scenes"])
            unknown = sorted(wanted - {item.name for item in self.items})
            if unknown:
                raise ConfigError(f"data.scenes names scenes not found in {root}: {', '.join(unknown)}")
            self.items = [item for item in self.items if item.name in wanted]
        self.wavelengths = config_wavelengths(data)
        self.response = resolve_response(data["response"], self.wavelengths) if data.get("response") else None
        self.encoding = data.get("camera_encoding") or "linear"
        if self.encoding not in ("linear", "srgb8"):
            raise ConfigError(f"data.camera_encoding must be linear or srgb8, got {self.encoding!r}")
        self.split = resolve_split(data, self.run_dir, [item.name for item in self.items])
        extra = self._extra_train_items()
        self.split["train"] = self.split["train"] + [item.name for item in extra]
        self.scenes = EncodedScenes(SceneCache(self.items + extra, srf=self.response), self.encoding)

    def _extra_train_items(self) -> list:
        """Scenes of ``data.extra_train`` (e.g. ``{kind: synthetic, synthetic: {count: 16, size: 256}}``), named
        ``extra/<scene>``: they join the training subset only, never validation or test, and are not in
        ``split.json`` (which stays the split of the main dataset). Patches are drawn uniformly over training scenes,
        so the number of extra scenes sets their share of the patches. Synthetic scenes are generated once into
        ``run_dir/extra_train`` with the task's wavelengths and camera response."""
        data = self.config["data"]
        source = data.get("extra_train")
        if not source:
            return []
        merged = {"response": data.get("response"), "wavelengths": data.get("wavelengths"), **source}
        kind, root = prepare_data_root(merged, self.run_dir / "extra_train")
        return [dataclasses.replace(item, name=f"extra/{item.name}") for item in discover(kind, root)]

    def augmentation(self) -> tuple[bool, Compose | None, float]:
        """``data.augment``: ``true``/``false`` (flips and transpose), or a mapping ``{dihedral: bool, relight:
        strength, exposure: [lo, hi], density: [lo, hi], mix: probability}`` adding physics-preserving relighting,
        exposure and pigment density (:mod:`hsinr.data.augment`) and mixup of scenes
        (:class:`~hsinr.data.PatchDataset`'s ``mix``). Relighting and mixing re-render the RGB from the cube; with
        ``data.camera_encoding: srgb8`` it is then quantised like an 8-bit sRGB file again.
        Returns ``(dihedral, transform, mix)``."""
        spec = self.config["data"].get("augment", True)
        if isinstance(spec, bool):
            return spec, None, 0.0
        if not isinstance(spec, dict):
            raise ConfigError(f"data.augment must be true, false or a mapping, got {spec!r}")
        known = ("dihedral", "relight", "exposure", "density", "mix")
        unknown = sorted(set(spec) - set(known))
        if unknown:
            raise ConfigError(f"data.augment: unknown keys {', '.join(unknown)} ({', '.join(known)})")
        strength = float(spec.get("relight", 0.0))
        exposure = tuple(spec.get("exposure") or (1.0, 1.0))
        density = tuple(spec.get("density") or (1.0, 1.0))
        mix = float(spec.get("mix", 0.0))
        transforms: list = []
        if strength > 0 or exposure != (1.0, 1.0) or density != (1.0, 1.0) or mix > 0:
            if self.response is None:
                raise ConfigError(
                    "data.augment.relight, exposure, density and mix need data.response: the RGB is re-rendered from "
                    "the cube"
                )
            transforms.append(Relight(self.response.srf, self.wavelengths, strength, exposure, density))
            if self.encoding == "srgb8":
                transforms.append(QuantizeSRGB(8))
        return bool(spec.get("dihedral", True)), Compose(transforms) if transforms else None, mix

    def train_dataset(self, seed: int) -> PatchDataset:
        data = self.config["data"]
        dihedral, transform, mix = self.augmentation()
        return PatchDataset(
            self.scenes.pairs(self.split["train"]),
            patch_size=int(data.get("patch_size", 64)),
            patches_per_epoch=int(data.get("patches_per_epoch", 1000)),
            augment=dihedral,
            seed=seed,
            transform=transform,
            mix=mix,
        )

    def complete_spec(self, spec: dict) -> dict:
        """Fill ``srf``/``wavelengths`` of models that take them from the task's camera response."""
        return complete_spec_from_response(spec, self.srf_array(), self.wavelengths)

    def protocol_lines(self) -> list[str]:
        """What every table of this task states: data, response, split, loss, PSNR definition."""
        data, train = self.config["data"], self.config["train"]
        response = self.response.name if self.response is not None else "the dataset's paired RGB files"
        return [
            f"data: {data.get('kind')} {data.get('root')}; RGB rendered with {response} (rgb = cube @ P.T, linear)"
            + ("; stored as 8-bit sRGB files and decoded back to linear" if self.encoding == "srgb8" else ""),
            f"split: {', '.join(f'{k} {len(v)}' for k, v in self.split.items())} scenes (written to split.json)"
            + (
                f"; the training scenes include {self._extra_count()} of data.extra_train"
                if self._extra_count()
                else ""
            ),
            f"training: loss {train.get('loss', 'l1')}, {data.get('patch_size', 64)}-px patches, augment "
            f"{data.get('augment', True)}",
            "evaluation: whole test images; PSNR = mean over bands of 10 log10(1 / MSE) (peak 1.0); "
            "SAM in degrees over non-zero pixels",
        ]

    def _extra_count(self) -> int:
        return sum(name.startswith("extra/") for name in self.split["train"])

    def train_pairs(self):
        """(RGB, cube) numpy pairs of the training scenes (closed-form models fit on these)."""
        return [(pair.rgb, pair.cube) for pair in self.scenes.pairs(self.split["train"])]

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        """``train.loss`` (default L1, eq. 1/11) between the prediction and the cube."""
        pred = model(*(batch[key] for key in model_input_keys(model)))
        return self.objective(pred, batch["cube"])

    def eval_cases(self, subset: str = "val") -> list[EvalCase]:
        """Whole images of ``subset``: RGB → cube with :func:`hsinr.infer.reconstruct` (``train.val_tile``)."""
        tile = int(self.config["train"].get("val_tile", 512))
        srf = self.srf_array()
        cases = []
        for pair in self.scenes.pairs(self.split.get(subset) or []):
            cases.append(
                EvalCase(
                    pair.name,
                    pair.cube,
                    pair.wavelengths,
                    lambda model, rgb=pair.rgb: reconstruct(rgb, model, tile=tile, progress=False),
                    {"rgb": pair.rgb, "srf": srf},
                )
            )
        return cases

    def validate(self, model, subset: str = "val") -> dict:
        """Mean metrics over the whole images of ``subset`` (empty dict when the subset is empty)."""
        return mean_metrics(model, self.eval_cases(subset))

    def srf_array(self) -> np.ndarray | None:
        return None if self.response is None else np.asarray(self.response.srf, dtype=np.float64)

    def meta(self) -> dict:
        """What a checkpoint needs to be used later without the config (see :mod:`hsinr.checkpoint`)."""
        train_rgbs = [pair.rgb for pair in self.scenes.pairs(self.split["train"])]
        return {
            "task": "spectral_sr",
            "wavelengths": self.wavelengths.tolist(),
            "srf": None if self.response is None else np.asarray(self.response.srf).tolist(),
            "response": None if self.response is None else self.response.name,
            "input": "linear RGB in [0, 1], rgb = cube @ srf.T (eq. 4), no gamma"
            + ("; trained on 8-bit sRGB files decoded to linear" if self.encoding == "srgb8" else ""),
            "camera_encoding": self.encoding,
            "rgb_stats": rgb_statistics(train_rgbs),
            "split": self.split,
            "data": {
                "kind": self.config["data"].get("kind"),
                "root": str(self.config["data"].get("root")),
                "extra_train": self.config["data"].get("extra_train"),
            },
        }
