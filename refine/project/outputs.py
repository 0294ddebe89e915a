"""Files a command writes for the user (``--out``, ``--labeling-config``): checked, then atomic.

Three rules protect a project from its own commands:

- an output never lies inside the project folder (it would overwrite or add files the project
  reads, which makes it unreadable);
- an existing file is replaced only with ``--force``; a folder is never replaced;
- files get the permissions of any file the user creates (``0666`` less the umask), not the
  ``0600`` of a temporary file.

:func:`check_output` validates a path before any work is done; :func:`write_output` writes the
bytes atomically (temporary file in the same folder, fsync, rename), so a reader sees the old file
or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from refine.errors import ConfigError


def current_umask() -> int:
    """The process's umask (read without changing it for longer than two system calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def user_file_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` would give a new file."""
    return 0o666 & ~current_umask()


def user_dir_mode() -> int:
    """The permission bits ``mkdir`` would give a new folder."""
    return 0o777 & ~current_umask()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def check_output(
    path: str | os.PathLike,
    flag: str,
    *,
    project_root: str | os.PathLike | None = None,
    force: bool = False,
    suffixes: tuple[str, ...] | None = None,
) -> Path:
    """Validate an output path before anything is computed or written.

    Parameters
    ----------
    path : path
        Where the user asked for the output.
    flag : str
        The option that named it (``--out``, ``--labeling-config``), for the message.
    project_root : path, optional
        The project folder, which the output must lie outside of.
    force : bool
        Allow replacing an existing file.
    suffixes : tuple of str, optional
        Allowed file suffixes (lower case, with the dot).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        The path is inside the project, is a folder, exists without ``force``, has a suffix not
        in ``suffixes``, or its parent is not a folder.
    """
    path = Path(path)
    resolved = path.resolve()
    if project_root is not None:
        root = Path(project_root).resolve()
        if _inside(resolved, root):
            raise ConfigError(
                f"{flag} {path} lies inside the project folder {project_root}; write outputs "
                "outside it (the project's own files must not be replaced)"
            )
    if resolved.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file name, e.g. {path}/batch.csv")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{flag} {path}: unsupported file type {path.suffix.lower() or '(none)'!r}; "
            f"allowed: {', '.join(suffixes)}"
        )
    if resolved.exists() and not force:
        raise ConfigError(f"{flag} {path} already exists; pass --force to replace it")
    parent = resolved.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {path}: {probe} is a file, not a folder")
    return path


def write_output(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically with the user's file permissions.

    The folder is created if needed. An existing file keeps its permission bits; a new one gets
    ``0666`` less the umask. Call :func:`check_output` first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = user_file_mode()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path
