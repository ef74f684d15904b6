"""The one in-memory convention for a hyperspectral cube.

A :class:`Cube` is a float32 numpy array of shape ``(H, W, C)`` (rows, columns, bands) with values on a linear scale
where 1.0 means "full scale" of the source (for example a 16-bit PNG divided by 65535), the band centres in nanometres
(``wavelengths``, shape ``(C,)``, increasing, or ``None`` when the file does not say), and where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError


@dataclass
class Cube:
    """Hyperspectral data with its band centres.

    Attributes:
        data: float32 array ``(H, W, C)``; linear values, 1.0 = full scale of the source.
        wavelengths: band centres in nm, shape ``(C,)``, or ``None`` when unknown.
        source: file the cube was read from (for error messages), or ``None``.
        scale: the factor the stored values were divided by to reach ``data`` (1.0 when stored as floats).
    """

    data: np.ndarray
    wavelengths: np.ndarray | None = None
    source: str | None = None
    scale: float = 1.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data)
        where = f"{self.source}: " if self.source else ""
        if self.data.ndim != 3:
            raise DataError(f"{where}expected a 3-D cube (H, W, C), got shape {self.data.shape}")
        if self.data.dtype != np.float32:
            self.data = self.data.astype(np.float32)
        if self.wavelengths is not None:
            self.wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
            if self.wavelengths.size != self.data.shape[2]:
                raise DataError(
                    f"{where}{self.wavelengths.size} wavelengths given for a cube of {self.data.shape[2]} bands"
                )

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def bands(self) -> int:
        return int(self.data.shape[2])

    def check_finite(self) -> Cube:
        """Raise :class:`DataError` naming the file when the cube holds NaN or Inf values."""
        bad = ~np.isfinite(self.data)
        if bad.any():
            where = self.source or "cube"
            raise DataError(f"{where}: {int(bad.sum())} NaN/Inf values (of {bad.size})")
        return self


def default_wavelengths(count: int = 31, start: float = 400.0, stop: float = 700.0) -> np.ndarray:
    """Evenly spaced band centres in nm; the default is 400, 410, ..., 700 nm (31 bands, CAVE/ARAD/ICVL)."""
    return np.linspace(start, stop, count)
