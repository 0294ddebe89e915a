"""What may be missing at run time: optional dependencies and remote resources (weights, data).

- :func:`require` imports an optional dependency or says which pip extra installs it;
- :class:`ResourceUnavailableError` / :func:`resource_unavailable`: model weights, model code or a
  data set could not be loaded (offline, renamed, private), with the ways to use a local copy.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from refine.errors import MissingDependencyError, RefineError


class ResourceUnavailableError(RefineError, OSError):
    """Model weights, model code or a data set could not be loaded (offline, missing, private).

    The message names the id that failed and how to point the package at a local copy.
    """


def resource_unavailable(
    what: str, ident: str, cause: BaseException | str, hints: Sequence[str]
) -> ResourceUnavailableError:
    """Build the error for an id that could not be loaded, with the ways to use a local copy.

    Parameters
    ----------
    what : str
        What failed, e.g. ``"weights of backbone 'dinov2'"`` or ``"dataset 'cifar10'"``.
    ident : str
        The hub id (or URL, DOI) that could not be loaded.
    cause : exception or str
        The underlying failure; only its first line is kept so the message stays readable.
    hints : sequence of str
        One line per way of providing a local copy.
    """
    text = str(cause).strip().splitlines()
    first = text[0] if text else type(cause).__name__
    if isinstance(cause, BaseException):
        first = f"{type(cause).__name__}: {first}"
    lines = [f"could not load {what} from {ident!r} ({first[:300]})."]
    lines.append("To use a local copy instead:")
    lines.extend(f"  - {h}" for h in hints)
    return ResourceUnavailableError("\n".join(lines))


HF_CACHE_HINT = (
    "or copy a populated Hugging Face cache to this machine and point HF_HOME at it "
    "(set HF_HUB_OFFLINE=1 to skip network look-ups that would otherwise be retried)"
)


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module!r}; install it with "
            f'`pip install "refine-al[{extra}]"` ({err})'
        ) from err
