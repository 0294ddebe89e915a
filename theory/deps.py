"""The ``theory`` extra: sympy, needed by :mod:`theory` and by nothing under ``refine/``.

Install it with ``pip install "refine-al[theory]"`` (the ``dev`` extra includes it).
"""

from __future__ import annotations

from types import ModuleType

from refine.errors import MissingDependencyError

__all__ = ["SYMPY_MISSING", "require_sympy"]

SYMPY_MISSING = (
    'the theory package needs sympy, which is in the "theory" extra; install it with '
    '`pip install "refine-al[theory]"`'
)


def require_sympy() -> ModuleType:
    """Import sympy or raise :class:`refine.errors.MissingDependencyError` naming the extra."""
    try:
        import sympy
    except ImportError as err:
        raise MissingDependencyError(f"{SYMPY_MISSING} ({err})") from err
    return sympy
