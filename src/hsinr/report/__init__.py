"""Tables (Markdown, CSV, JSON) and figures (band grids, error maps, spectra, false colour) for reports."""

from .figures import band_grid_figure, false_colour, false_colour_rgb, spectra_figure, stretch_for_display
from .tables import format_markdown, write_table

__all__ = [
    "band_grid_figure",
    "false_colour",
    "false_colour_rgb",
    "format_markdown",
    "spectra_figure",
    "stretch_for_display",
    "write_table",
]
