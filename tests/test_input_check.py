"""Camera-mismatch warnings: an image whose colour balance lies far from the training inputs is flagged."""

from __future__ import annotations

import numpy as np

from hsinr.input_check import input_warnings
from hsinr.tasks import rgb_statistics


def test_statistics_envelope_and_warning():
    rng = np.random.default_rng(0)
    neutral = [rng.uniform(0.1, 0.3, (8, 8, 3)).astype(np.float32) for _ in range(3)]
    meta = {"rgb_stats": rgb_statistics(neutral), "response": "nikon_d700"}
    assert np.allclose(meta["rgb_stats"]["chromaticity_min"], 1 / 3, atol=0.05)
    assert input_warnings(neutral[0], meta) == []
    reddish = neutral[0] * np.array([3.0, 1.0, 0.5], np.float32)
    warnings = input_warnings(reddish, meta, "photo.png")
    assert len(warnings) == 1 and "photo.png" in warnings[0] and "nikon_d700" in warnings[0]


def test_no_statistics_no_warning():
    assert input_warnings(np.ones((4, 4, 3), np.float32), {}) == []
