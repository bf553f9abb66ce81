"""Geometry and topology of neural-network training: the reference pipeline.

Pure kernels (``topology``, ``diffusion``, ``models``, ``train``, ``data``) are kept apart
from I/O (``store``) and orchestration (``parallel``, the Snakemake rules).
"""

__version__ = "0.1.0"
