"""Tables (Markdown, CSV, JSON) and figures (band grids, error maps, spectra, false colour) for reports."""

from .figures import band_grid_figure, false_colour, spectra_figure
from .tables import format_markdown, write_table

__all__ = ["band_grid_figure", "false_colour", "format_markdown", "spectra_figure", "write_table"]
