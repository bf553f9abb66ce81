"""The figures of every study: one style, the files a plotting step writes, and a check of each figure.

A study's ``figures.py`` only draws. It makes each figure with :func:`new_figure` (the shared style:
constrained layout, 7-10 pt text at the figure's printed size), names networks by their short
labels (:mod:`pipeline.labels`), and hands the figure to :meth:`FigureFiles.save`, which checks it
(:func:`figure_problems`: every data panel has both axis labels, no text leaves the canvas) and
writes it in each of the configured formats (``figures.formats``, ``figures.dpi``). A figure that
fails the check is written all the same and its problems logged in the step's log, naming the
figure (a run whose numbers are computed must not fail on a label); the tests hold every figure of
the test run to none.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Collection, Iterator, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

from .labels import network_label, short_network_labels  # noqa: E402

__all__ = [
    "STYLE", "FigureFiles", "figure_problems", "new_figure", "styled", "network_label", "short_network_labels",
]

log = logging.getLogger(__name__)
# fontTools reports every font it subsets into a PDF at INFO: noise in each plotting step's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# The shared style, in points at the figure's own size (a figure is drawn at the width it is
# meant to be printed: <= ~7.5 in, a page's text width): text 7-10 pt, constrained layout, no
# tight bounding box at save (it would hide text that runs off the canvas; the layout keeps it on).
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 10,
    "figure.labelsize": 8,
    "figure.constrained_layout.use": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.0,
    "savefig.bbox": "standard",
    "pdf.fonttype": 42,  # TrueType in PDFs: text stays text (editable, searchable)
}

# Formats a plotting step writes; PNG always (the HTML report shows the PNGs).
FORMATS = ("png", "pdf", "svg")


def styled(function):
    """Run a plotting step under :data:`STYLE` (every text made inside gets the style's sizes)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import matplotlib.pyplot as plt

        with plt.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float], **kwargs):
    """A figure in the shared style and its axes (``plt.subplots`` with constrained layout).

    Parameters
    ----------
    nrows, ncols : int
        The grid of panels.
    size : (float, float)
        Width and height in inches: the printed size (the style's fonts are points at this size).
    **kwargs
        Passed to ``plt.subplots`` (``squeeze``, ``sharex``, ``subplot_kw``...).

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        return plt.subplots(nrows, ncols, figsize=size, layout="constrained", **kwargs)


# ---------------------------------------------------------------------------------- the check
def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>" or hasattr(ax, "_colorbar")


def _figure_label(fig, which: str) -> str:
    """The text of ``fig``'s (or a parent subfigure's) supxlabel/supylabel, '' when none."""
    while fig is not None:
        text = getattr(fig, f"_sup{which}label", None)
        if text is not None and text.get_visible() and text.get_text().strip():
            return text.get_text()
        parent = getattr(fig, "_parent", None)
        fig = parent if parent is not fig else None
    return ""


def _labelled(ax, which: str) -> bool:
    """Whether the ``which`` (x, y, z) axis of ``ax`` says what it shows: its own label, a label on
    an axes it is shared with (a shared axis labelled once, on the outer panel), or the figure's
    supxlabel/supylabel."""
    if getattr(ax, f"get_{which}label")().strip():
        return True
    shared = getattr(ax, f"get_shared_{which}_axes", None)
    if shared is not None:
        for sibling in shared().get_siblings(ax):
            if sibling is not ax and sibling.get_visible() and getattr(sibling, f"get_{which}label")().strip():
                return True
    return which in "xy" and bool(_figure_label(ax.get_figure(root=False), which))


def _panel_name(ax, index: int) -> str:
    title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
    return f"axes {index}" + (f" ({title.splitlines()[0][:40]!r})" if title else "")


def _drawn_ticks(axis) -> Iterator:
    """The tick labels of ``axis`` that are drawn: visible, non-empty, within the view interval."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * max(1.0, abs(high - low))
    for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
        loc = tick.get_loc()
        if loc is None or not (low - slack <= loc <= high + slack) or not tick.get_visible():
            continue
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text().strip():
                yield label


def _texts(fig) -> Iterator[tuple[str, object]]:
    """Every drawn text-bearing artist of ``fig``: (what it is, the artist)."""
    for which in ("suptitle", "supxlabel", "supylabel"):
        text = getattr(fig, f"_{which}", None)
        if text is not None:
            yield which, text
    for text in fig.texts:
        yield "figure text", text
    for legend in fig.legends:
        yield "figure legend", legend
    for sub in getattr(fig, "subfigs", []):
        yield from _texts(sub)
    if fig is not fig.get_figure(root=True):
        return
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        name = _panel_name(ax, index)
        for loc in ("title", "_left_title", "_right_title"):
            title = getattr(ax, loc, None)
            if title is not None:
                yield f"{name} {loc.strip('_').replace('_', ' ')}", title
        if ax.axison:
            axes = {"x": ax.xaxis, "y": ax.yaxis, **({"z": ax.zaxis} if hasattr(ax, "zaxis") else {})}
            for which, axis in axes.items():
                if not axis.get_visible():
                    continue
                yield f"{name} {which}label", axis.label
                yield f"{name} {which} offset", axis.get_offset_text()
                for label in _drawn_ticks(axis):
                    yield f"{name} {which} tick label", label
        for text in ax.texts:
            yield f"{name} text", text
        legend = ax.get_legend()
        if legend is not None:
            yield f"{name} legend", legend


def figure_problems(fig) -> list[str]:
    """What keeps a figure from being fit to publish; empty when nothing does.

    Draws ``fig`` (its layout included) and reports

    - every visible panel with data (lines, markers, images, patches, collections) whose x or y
      axis (and z, in 3-D) says nothing of what it shows: no label of its own, none on an axes it
      shares that axis with, and no supxlabel/supylabel. Colorbars are exempt (their label is the
      colorbar's ``label``), and so are panels whose axes are turned off (``ax.set_axis_off()``:
      coordinates that mean nothing, such as a graph layout or an image of weights);
    - every drawn text (titles, axis and tick labels, legends, annotations, figure texts) whose
      rendered extent leaves the figure's canvas.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    list of str
        One line per problem.
    """
    problems = []
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison or _is_colorbar(ax) or not ax.has_data():
            continue
        missing = [which for which in ("x", "y", "z") if hasattr(ax, f"get_{which}label") and not _labelled(ax, which)]
        if missing:
            problems.append(f"{_panel_name(ax, index)} has data but no {' or '.join(f'{w}-label' for w in missing)}")
    canvas, seen = fig.bbox, set()
    for what, artist in _texts(fig):
        if id(artist) in seen or not artist.get_visible():
            continue
        seen.add(id(artist))
        if hasattr(artist, "get_text") and not artist.get_text().strip():
            continue
        box = artist.get_window_extent(renderer)
        if box.width == 0 and box.height == 0:
            continue
        if box.x0 < canvas.x0 - 1 or box.y0 < canvas.y0 - 1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1:
            text = artist.get_text() if hasattr(artist, "get_text") else ""
            shown = f" {text[:50]!r}" if text else ""
            problems.append(
                f"{what}{shown} runs off the canvas (extent x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f};"
                f" canvas {canvas.width:.0f} x {canvas.height:.0f} px)"
            )
    return problems


# ---------------------------------------------------------------------------------- the files
def figure_outputs(names: Collection[str], formats: Sequence[str]) -> list[str]:
    """The named outputs of a plotting rule: each figure's name (its PNG) and ``<name>_<format>``
    for every other format."""
    return [*names, *(f"{name}_{fmt}" for name in names for fmt in formats if fmt != "png")]


class FigureFiles:
    """Where a plotting step's figures go, checked against the figures its study draws.

    Parameters
    ----------
    step : str
        The plotting step's name, for the error message.
    names : collection of str
        The figures the study draws (its ``FIGURES``).
    paths : mapping
        The rule's named figure outputs: figure name -> PNG path, and ``<name>_<format>`` -> path
        for each other format of ``formats``; must name exactly those.
    dpi : int
        Resolution of the raster formats (PNG).
    formats : sequence of str
        Formats written (``png`` among them: the report shows the PNGs).
    hide_empty_axes : bool
        Turn off panels that received nothing (a small sweep may fill fewer panels).
    check : bool
        Check every figure with :func:`figure_problems` (default). A figure with problems is still
        written, and its problems logged as a warning and kept in ``problems``: a label that runs
        off the canvas at paper scale must not fail a run whose numbers are all computed (the
        tests hold every figure of the test run to no problems).
    """

    def __init__(
        self, step: str, names: Collection[str], paths: Mapping[str, str], dpi: int, formats: Sequence[str] = ("png",),
        hide_empty_axes: bool = False, check: bool = True,
    ):
        formats = list(dict.fromkeys(formats))
        if "png" not in formats or not set(formats) <= set(FORMATS):
            raise ValueError(f"{step}: formats must include png and be among {list(FORMATS)}; got {formats}")
        expected = figure_outputs(names, formats)
        if set(paths) != set(expected):
            raise ValueError(f"{step} draws {sorted(names)} as {formats}: expected paths for {sorted(expected)}; got {sorted(paths)}")
        for name in names:
            for fmt in formats:
                path = paths[name if fmt == "png" else f"{name}_{fmt}"]
                if Path(path).suffix != f".{fmt}":
                    raise ValueError(f"{step}: the {fmt} file of figure {name!r} must end in .{fmt}; got {path}")
        self.step, self.names, self.formats = step, list(names), formats
        self.paths, self.dpi, self.hide_empty_axes, self.check = dict(paths), dpi, hide_empty_axes, check
        self.written: list[Path] = []
        self.problems: dict[str, list[str]] = {}

    def files_of(self, name: str) -> dict[str, Path]:
        """Format -> path of figure ``name``."""
        return {fmt: Path(self.paths[name if fmt == "png" else f"{name}_{fmt}"]) for fmt in self.formats}

    def save(self, fig, name: str) -> Path:
        """Check ``fig`` (:func:`figure_problems`; problems are logged as a warning naming the
        figure, and kept in ``problems``), write it as figure ``name`` in every format (parent
        folders made) and close it. Returns the PNG's path."""
        import matplotlib.pyplot as plt

        if name not in self.names:
            plt.close(fig)
            raise ValueError(f"{self.step} draws {sorted(self.names)}, not {name!r}")
        if self.hide_empty_axes:
            for ax in fig.axes:
                if not ax.has_data() and not ax.texts and not ax.images and not _is_colorbar(ax):
                    ax.axis("off")
        problems = figure_problems(fig) if self.check else []
        if problems:
            self.problems[name] = problems
            log.warning("%s: figure %r is not fit to publish:\n  %s", self.step, name, "\n  ".join(problems))
        files = self.files_of(name)
        for fmt, path in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=self.dpi, format=fmt)
        plt.close(fig)
        self.written.extend(files.values())
        return files["png"]
