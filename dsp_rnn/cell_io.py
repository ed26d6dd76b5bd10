"""Save and load fitted cells; they live in :mod:`dsp_rnn.compare.cell_io` (this path stays
for code written against it)."""

from dsp_rnn.compare.cell_io import CELL_CLASSES, CONFIG, WEIGHTS, load_cell, save_cell

__all__ = ["CELL_CLASSES", "WEIGHTS", "CONFIG", "save_cell", "load_cell"]
