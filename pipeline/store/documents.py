"""Small whole-file outputs: Parquet tables and JSON documents, written atomically, and the
stable hash of a JSON-serializable specification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping

from .outputs import atomic_output


def spec_hash(spec: Mapping) -> str:
    """Stable hash of a JSON-serializable specification."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def write_table(frame, path: str | Path) -> None:
    """Write a pandas DataFrame as Parquet, atomically (written aside, then renamed)."""
    with atomic_output(path) as written:
        frame.to_parquet(written, index=False)


def read_table(path: str | Path):
    """Read a Parquet table written by :func:`write_table` (a pandas DataFrame)."""
    import pandas as pd

    return pd.read_parquet(path)


def write_json(value, path: str | Path) -> None:
    """Write a small JSON document (sorted keys), atomically."""
    with atomic_output(path) as written:
        written.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path):
    """Read a JSON document written by :func:`write_json`."""
    return json.loads(Path(path).read_text())
