"""The one device resolver of the package: ``"auto"``, ``"cpu"``, ``"cuda[:N]"``, ``"mps"``.

Head training, torch-based strategies and backbone extraction all resolve their ``device``
option here, so a name means the same everywhere and an unavailable accelerator is always an
error (never a silent fallback that would turn a GPU run into days on a CPU).
"""

from __future__ import annotations

from typing import Any

from refine.errors import ConfigError, unknown_choice

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def resolve_device(device: Any = "auto") -> Any:
    """A :class:`torch.device` for ``device``, or :class:`ConfigError` if it is unusable here.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` or None (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
        ``"mps"`` (Apple GPUs; only where ``torch.backends.mps`` is available), or a
        ``torch.device``. Case and surrounding spaces are ignored.

    Raises
    ------
    ConfigError
        An unknown name (the message lists the valid ones), or an accelerator this machine does
        not have (a CUDA index beyond the device count, CUDA or MPS absent).
    """
    import torch

    if device is None:
        device = "auto"
    spec = str(device) if isinstance(device, torch.device) else str(device).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise unknown_choice("device", device, DEVICE_CHOICES) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        idx = 0 if dev.index is None else dev.index
        if idx >= n:
            why = "CUDA is not available" if n == 0 else f"this machine has {n} CUDA device(s)"
            raise ConfigError(
                f"device={spec!r} is not available ({why}); use device='cpu' or device='auto'"
            )
        return dev
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError(
                f"device={spec!r} is not available (MPS is not available); use device='cpu'"
            )
        return dev
    raise unknown_choice("device", device, DEVICE_CHOICES)


def resolve_kernel_device(kernel_device: Any) -> str | None:
    """The validated ``kernel_device`` of a selection context: None (numpy) or a device name.

    Parameters
    ----------
    kernel_device : None, str or torch.device
        None: the strategies' heavy kernels run in numpy on the CPU (the reference path).
        Otherwise a device name as :func:`resolve_device` takes it (``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, ``"mps"``, ``"auto"``): the kernels run in torch there.

    Raises
    ------
    ConfigError
        Naming ``kernel_device`` and the allowed values, for an unknown or unavailable device.
    """
    if kernel_device is None:
        return None
    try:
        return str(resolve_device(kernel_device))
    except ConfigError as err:
        raise ConfigError(
            f"kernel_device: {err} (allowed: None for numpy, or one of {', '.join(DEVICE_CHOICES)})"
        ) from None


def kernel_device_for(device: Any) -> str | None:
    """The strategies' ``kernel_device`` for a run on ``device`` (head training's device).

    A CPU run keeps the numpy kernels (None: results bit-identical to the numpy reference);
    any other device runs the strategies' heavy kernels in torch on that same device.
    """
    resolved = str(resolve_device(device))
    return None if resolved == "cpu" else resolved
