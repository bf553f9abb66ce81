"""The PNG files of a study's plotting step (figures only draw; this writes what they drew)."""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Mapping


class FigureFiles:
    """Where a plotting step's figures go, checked against the figures its study draws.

    Parameters
    ----------
    step : str
        The plotting step's name, for the error message.
    names : collection of str
        The figures the study draws (its ``FIGURES``).
    paths : mapping
        Figure name -> PNG path, from the rule's named outputs; must name exactly ``names``.
    dpi : int
        Resolution of the PNGs.
    hide_empty_axes : bool
        Turn off panels that received nothing (a small sweep may fill fewer panels).
    """

    def __init__(self, step: str, names: Collection[str], paths: Mapping[str, str], dpi: int, hide_empty_axes: bool = False):
        if set(paths) != set(names):
            raise ValueError(f"{step} draws {sorted(names)}; got paths for {sorted(paths)}")
        self.paths, self.dpi, self.hide_empty_axes = dict(paths), dpi, hide_empty_axes
        self.written: list[Path] = []

    def save(self, fig, name: str) -> Path:
        """Write ``fig`` as figure ``name`` (parent folders made, tight bounding box) and close it."""
        import matplotlib.pyplot as plt

        if self.hide_empty_axes:
            for ax in fig.axes:
                if not ax.has_data() and not ax.texts and not ax.images and ax.get_label() != "<colorbar>":
                    ax.axis("off")
        path = Path(self.paths[name])
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=self.dpi, bbox_inches="tight")
        plt.close(fig)
        self.written.append(path)
        return path
