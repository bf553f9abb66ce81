"""What can go wrong with a store or an output, as exception types callers can tell apart."""

from __future__ import annotations


class StoreError(RuntimeError):
    """A store is missing, incomplete, corrupted or of another format."""


class CorruptStoreError(StoreError):
    """A chunk of a finished store failed its checksum; the store was moved aside."""


class OutputBusyError(StoreError):
    """Another live process is writing the same output."""
