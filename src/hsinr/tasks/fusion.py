"""Fusion (LR-HSI + HR-MSI → HR-HSI), the task of the INF³ paper and its baselines (``task: fusion``).

Ground-truth cubes come from :mod:`hsinr.data.fusion_scenes`; the inputs are simulated from them with
:mod:`hsinr.spectral.degradation` (the geometry and the protocol are written there) by the datasets of
:mod:`hsinr.data.fusion`; whole images are fused with :func:`hsinr.infer.fuse`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..data.fusion import FusionFullDataset, FusionPatchDataset
from ..data.fusion_scenes import FusionScenes
from ..errors import ConfigError
from ..infer.fuse import fuse
from ..losses import make_loss
from ..spectral.degradation import BLUR_SIGMA, BLUR_SIZE, decimation_taps, fusion_response
from .base import (
    EvalCase,
    config_wavelengths,
    mean_metrics,
    model_input_keys,
    prepare_data_root,
    register_task,
    resolve_split,
)

#: Defaults of ``scale``, ``hsi_bands`` and ``msi_bands`` shared by every fusion model of :mod:`hsinr.models`.
FUSION_MODEL_DEFAULTS = {"scale": 4, "hsi_bands": 31, "msi_bands": 3}


def channels_last_arrays(item: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lr_hsi (h, w, C), hr_msi (H, W, M), cube (H, W, C))`` numpy views of a :class:`FusionFullDataset` item."""
    lr_hsi, hr_msi, cube = (item[key].permute(1, 2, 0).numpy() for key in ("lr_hsi", "hr_msi", "cube"))
    return lr_hsi, hr_msi, cube


@register_task("fusion")
class FusionTask:
    """Training task ``task: fusion`` for :func:`hsinr.train.train`: the INF³ protocol on a set of cubes.

    Config keys used: the scene keys of :mod:`hsinr.data.fusion_scenes` (``data.kind/root/scenes/regions/wavelengths``;
    ``kind: remote`` for the remote-sensing cubes, ``regions`` to train and test on two halves of one scene);
    ``data.split`` as for ``spectral_sr``; ``data.response``, the HR-MSI response (:func:`fusion_response`: a camera
    spec, ``band_average`` or ``{centres, widths}``); ``data.scale`` (default: ``model.args.scale``, else 4);
    ``data.patch_size``, ``data.patches_per_epoch``, ``data.augment``. ``model.args.scale/hsi_bands/msi_bands``
    (defaults 4/31/3) must match the data (ConfigError otherwise). Loss: L1 (the paper's). Validation: whole images
    cropped to a multiple of the scale, fused with :func:`hsinr.infer.fuse` (``train.val_tile``), metrics of
    :func:`hsinr.metrics.evaluate_all` with ERGAS at ratio = scale.
    """

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.run_dir = config, Path(run_dir)
        self.objective = make_loss(config["train"].get("loss") or "l1")  # train.loss, checked now
        data = config["data"]
        model_args = config.get("model", {}).get("args") or {}
        self.scale = int(data.get("scale") or model_args.get("scale") or FUSION_MODEL_DEFAULTS["scale"])
        if not data.get("response"):
            raise ConfigError("task fusion needs data.response: the response that renders the HR-MSI")
        kind, root = prepare_data_root(data, self.run_dir)
        self.scenes = FusionScenes(data, kind, root, config_wavelengths(data))
        self.wavelengths = self.scenes.wavelengths
        self.response = fusion_response(data["response"], self.wavelengths)
        self.complete_spec({"name": config.get("model", {}).get("name"), "args": dict(model_args)})
        self.split = resolve_split(data, self.run_dir, self.scenes.names)

    def complete_spec(self, spec: dict) -> dict:
        """The model spec with ``scale``, ``hsi_bands`` and ``msi_bands`` checked against the data (the defaults of
        :data:`FUSION_MODEL_DEFAULTS` apply when absent; any disagreement is a :class:`ConfigError`)."""
        args = dict(spec.get("args") or {})
        needed = {"scale": self.scale, "hsi_bands": self.wavelengths.size, "msi_bands": len(self.response.srf)}
        for key, value in needed.items():
            given = args.get(key, FUSION_MODEL_DEFAULTS[key])
            try:
                agrees = int(given) == value
            except (TypeError, ValueError):
                agrees = False
            if not agrees:
                default = "" if key in args else " (the default)"
                raise ConfigError(
                    f"model.args.{key}={given}{default} but the data needs {value} (scale {self.scale}, "
                    f"{self.wavelengths.size} cube bands, {len(self.response.srf)} MSI bands); they must agree"
                )
        return {"name": spec.get("name"), "args": args}

    def train_dataset(self, seed: int) -> FusionPatchDataset:
        data = self.config["data"]
        return FusionPatchDataset(
            self.scenes.cubes(self.split["train"]),
            self.response,
            self.scale,
            patch_size=int(data.get("patch_size", 64)),
            patches_per_epoch=int(data.get("patches_per_epoch", 1000)),
            seed=seed,
            augment=bool(data.get("augment", True)),
        )

    def train_pairs(self) -> Iterator[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]:
        """``((lr_hsi (h, w, C), hr_msi (H, W, M)), cube (H, W, C))`` of each training scene, simulated on demand:
        what a model's closed-form part is fitted on (INF³'s detail calibration; the classical fusions fit each
        image and need none)."""
        names = self.split["train"]
        dataset = FusionFullDataset(self.scenes.cubes(names), self.response, self.scale, names)
        for item in dataset:
            lr_hsi, hr_msi, cube = channels_last_arrays(item)
            yield (lr_hsi, hr_msi), cube

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        """``train.loss`` (default L1, the paper's loss) between the fused patch and the ground truth."""
        pred = model(*(batch[key] for key in model_input_keys(model)))
        return self.objective(pred, batch["cube"])

    def eval_cases(self, subset: str = "val") -> list[EvalCase]:
        """Whole images of ``subset`` (cropped to a multiple of the scale), fused with :func:`hsinr.infer.fuse`."""
        tile = int(self.config["train"].get("val_tile", 512))
        cases = []
        names = self.split.get(subset) or []
        if not names:  # e.g. val: [] in leave-one-scene-out folds
            return cases
        dataset = FusionFullDataset(self.scenes.cubes(names), self.response, self.scale, names)
        for name, item in zip(names, dataset, strict=True):
            lr_hsi, hr_msi, cube = channels_last_arrays(item)

            def predict(model, lr_hsi=lr_hsi, hr_msi=hr_msi):
                parameter = next(iter(model.parameters()), None)
                device = parameter.device if parameter is not None else "cpu"
                return fuse(lr_hsi, hr_msi, model, tile=tile, device=device)

            cases.append(EvalCase(name, cube, self.wavelengths, predict, {"ratio": self.scale}))
        return cases

    def validate(self, model, subset: str = "val") -> dict:
        """Mean metrics over the whole images of ``subset`` (empty dict when the subset is empty)."""
        return mean_metrics(model, self.eval_cases(subset))

    def meta(self) -> dict:
        """What a checkpoint needs to be used later without the config (see :mod:`hsinr.checkpoint`)."""
        return {
            "task": "fusion",
            "wavelengths": self.wavelengths.tolist(),
            "srf": np.asarray(self.response.srf).tolist(),
            "response": self.response.name,
            "scale": self.scale,
            "simulation": {
                "blur_sigma": BLUR_SIGMA,
                "blur_kernel": BLUR_SIZE,
                "taps": decimation_taps(self.scale)[0].tolist(),
                "geometry": "LR pixel i centred at HR coordinate scale*i + (scale-1)/2 (block centre)",
            },
            "input": "LR-HSI (linear, blurred and downsampled) + HR-MSI = cube @ srf.T (linear, no gamma)",
            "split": self.split,
            "data": {key: self.config["data"].get(key) for key in ("kind", "scenes", "regions")}
            | {"root": str(self.config["data"].get("root"))},
        }

    def protocol_lines(self) -> list[str]:
        """What every table of a fusion run states: data, split, simulated inputs, loss, ERGAS ratio, PSNR."""
        data, train = self.config["data"], self.config["train"]
        regions = f" regions {data['regions']}" if data.get("regions") else ""
        taps = len(decimation_taps(self.scale)[0])
        budget = f"{train['steps']} optimiser steps" if train.get("steps") else f"{train.get('epochs')} epochs"
        return [
            f"data: {data.get('kind')} {data.get('root') or ''} {data.get('scenes') or ''}{regions}".rstrip(),
            f"split: {', '.join(f'{k} {len(v)}' for k, v in self.split.items())} scenes (written to split.json)",
            f"inputs: LR-HSI = Gaussian PSF (sigma {BLUR_SIGMA} HR px, {taps}x{taps} taps) centred on each "
            f"{self.scale}x{self.scale} block; HR-MSI = cube @ srf.T with {self.response.name} (linear, no noise)",
            f"training: loss {train.get('loss') or 'l1'}, {data.get('patch_size', 64)}-px patches, "
            f"augment {data.get('augment', True)}, "
            f"budget {budget}; classical fusions are not trained (they fit each test image)",
            f"evaluation: whole test images cut to a multiple of {self.scale} px; PSNR = mean over bands of "
            f"10 log10(1 / MSE) (peak 1.0); SAM in degrees; ERGAS with ratio {self.scale}",
        ]
