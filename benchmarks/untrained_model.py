"""The model of a config file with untrained weights: what the speed and memory scripts time.

Weights change neither time nor memory, but a forward pass needs two things a trained checkpoint would hold: a
closed-form prior (the recipe's root-polynomial least squares) is fitted to random data, and a model that takes a
camera response (the recipe's exact RGB consistency) gets the CIE 1964 colour-matching functions. Any response of the
right shape costs the same, so the scripts do not depend on the config's response file being present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BANDS = 31


def spec_of_config(path: str | Path) -> dict:
    """The registry spec ``{name, args}`` of the ``model`` section of config ``path``, completed with a response."""
    from hsinr.config import load_config

    model = load_config(str(path))["model"]
    return complete_spec({"name": model["name"], "args": dict(model.get("args") or {})})


def complete_spec(spec: dict) -> dict:
    """``spec`` with ``srf`` (3, 31) and ``wavelengths`` filled in where its builder takes them and they are absent."""
    from hsinr.cube import default_wavelengths
    from hsinr.spectral import builtin_response
    from hsinr.tasks.base import complete_spec_from_response

    wavelengths = default_wavelengths(BANDS)
    return complete_spec_from_response(spec, builtin_response("cie1964_xyz", wavelengths).srf, wavelengths)


def untrained_model(spec: dict):
    """The model of ``spec`` (completed by :func:`complete_spec`), random weights, its prior fitted to random data."""
    from hsinr.models import make

    model = make(complete_spec(spec))
    if hasattr(model, "fit_prior"):
        rng = np.random.default_rng(0)
        cube = rng.random((64, 64, BANDS), dtype=np.float32)
        model.fit_prior([(cube @ rng.random((BANDS, 3), dtype=np.float32) / BANDS, cube)])
    return model
