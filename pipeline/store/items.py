"""Item stores: written one item at a time by a long step, resumable after a kill (a partial
store of the same inputs and settings is reopened), complete-marked and moved into place."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import zarr

from .. import __version__
from .analysis import ANALYSIS_FORMAT
from .checksums import checksummed_array
from .outputs import claim_output, partial_path, publish, release_output, remove_path


def open_resumable(path: str | Path, fingerprint: str, create) -> tuple[zarr.Group, bool]:
    """The partial store of a step that writes its results item by item.

    A partial store left by a killed run with the same ``fingerprint`` (a hash of the step's
    inputs and settings) is reopened, so the step computes only the items it lacks; any other
    leftover is removed and ``create(root)`` lays out a fresh one. Finish with
    :func:`publish_resumable`.

    Returns
    -------
    (zarr.Group, bool)
        The store at ``<path>.partial``, and whether it was resumed.
    """
    claim_output(path)  # held until publish_resumable, or until the process ends
    partial = partial_path(path)
    if partial.exists():
        try:
            root = zarr.open_group(str(partial), mode="r+")
            if root.attrs.get("fingerprint") == fingerprint:
                return root, True
        except Exception:  # an unreadable leftover is simply not resumed
            pass
        remove_path(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    root = zarr.open_group(str(partial), mode="w", zarr_format=3)
    create(root)
    root.attrs.update({"fingerprint": fingerprint, "format": ANALYSIS_FORMAT, "package_version": __version__, "complete": False})
    return root, False


def create_item_array(root: zarr.Group, name: str, shape: tuple, chunks: tuple, dtype: str, fill_value) -> zarr.Array:
    """An array of an item store (checksummed, compressed), created empty."""
    return checksummed_array(root, name, shape, chunks, dtype, fill_value)


def publish_resumable(root: zarr.Group, path: str | Path, attrs: Mapping | None = None) -> Path:
    """Mark an item store complete and move it into place (see :func:`open_resumable`)."""
    root.attrs.update({**(attrs or {}), "complete": True})
    published = publish(root.store.root, path)
    release_output(path)
    return published
