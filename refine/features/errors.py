"""Errors and warnings of the feature cache."""

from __future__ import annotations

from refine.errors import DataError
from refine.resources import ResourceUnavailableError


class CacheCorruptedError(DataError):
    """A cache file cannot be read or its checksum does not match its content."""


class CacheMismatchError(DataError):
    """A cache file is intact but was written for other settings than the ones requested."""


class FeaturesNotFoundError(DataError, FileNotFoundError):
    """No valid cached features for the requested dataset/split/backbone in a directory."""


class CacheWarning(UserWarning):
    """A cache file was skipped or rebuilt (corrupted, mismatching, other library versions)."""


__all__ = [
    "CacheCorruptedError",
    "CacheMismatchError",
    "CacheWarning",
    "FeaturesNotFoundError",
    "ResourceUnavailableError",
]
