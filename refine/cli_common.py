"""Helpers shared by every CLI module: the error wrapper, ``--param`` parsing and routing.

:mod:`refine.cli` and :mod:`refine.cli_project` both import from here, so neither imports the
other. One error format for every command: a :class:`refine.errors.RefineError` (and the few
operating-system errors a command anticipates) becomes one line ``error: ...`` on stderr and exit
status 2; anything else is a bug and is reported as one ``internal error`` line followed by its
traceback, exit status 1 (never silently).
"""

from __future__ import annotations

import functools
import json
import re
import traceback

import click
import typer

from refine.errors import ConfigError, RefineError


def _err_console():
    from rich.console import Console

    return Console(stderr=True)


#: Python keyword spellings in library messages → the CLI flag a command-line user types.
_KWARG_TO_FLAG = re.compile(r"\bdevice=(['\"])(.+?)\1")


def cli_wording(message: str) -> str:
    """Say CLI flags, not Python keywords: ``device='cpu'`` becomes ``--device cpu``."""
    return _KWARG_TO_FLAG.sub(lambda m: f"--device {m.group(2)}", message)


def print_error(message: str) -> None:
    """Print ``error: message`` on stderr; square brackets in ``message`` are kept verbatim."""
    from rich.markup import escape

    _err_console().print(
        f"[bold red]error:[/] {escape(cli_wording(str(message)))}", highlight=False, soft_wrap=True
    )


def check_device(device: str) -> str:
    """Fail fast (before anything is written) on a ``--device`` this machine cannot use."""
    from refine.device import resolve_device
    from refine.errors import ConfigError

    try:
        resolve_device(device)
    except ConfigError as err:
        text = cli_wording(str(err))
        raise ConfigError(text if "--device" in text else f"--device {device}: {text}") from None
    return device


def friendly_errors(fn):
    """Print RefineErrors as one clear line and exit with status 2; report bugs loudly."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RefineError as exc:
            print_error(str(exc))
            raise typer.Exit(code=2) from None
        except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a bug: say so, with the traceback, never print nothing
            from rich.markup import escape

            con = _err_console()
            con.print(
                f"[bold red]internal error[/] (a bug in refine; please report it): "
                f"{escape(type(exc).__name__)}: {escape(str(exc))}",
                highlight=False,
                soft_wrap=True,
            )
            con.print(escape("".join(traceback.format_exc())), highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper


def parse_params(items: list[str] | None) -> dict:
    """``["k=v", ...]`` → dict, values parsed as JSON when possible (numbers, true, null, lists)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--param expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise ConfigError(f"--param expects KEY=VALUE with a non-empty KEY, got {item!r}")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def route_params(names: list[str], params: dict) -> dict[str, dict]:
    """Each strategy's constructor parameters from the ``--param`` items of a run (or a selection).

    ``STRATEGY.KEY=VALUE`` (``refine.rounds=3``) goes to that strategy only. A plain
    ``KEY=VALUE`` goes to every strategy of the run that takes ``KEY``, so
    ``--strategy random,refine --param rounds=3`` configures Refine and leaves Random alone; a key
    no strategy takes is an error naming the parameters each one has.
    """
    from refine.strategies.registry import parameter_names

    accepted = {n: set(parameter_names(n)) for n in names}
    routed: dict[str, dict] = {n: {} for n in names}
    for key, value in params.items():
        scope, dot, sub = key.rpartition(".")
        if dot and scope:
            if scope not in routed:
                raise ConfigError(
                    f"--param {key}: {scope!r} is not a strategy of this run; allowed: "
                    + ", ".join(names)
                )
            if sub not in accepted[scope]:
                raise ConfigError(
                    f"--param {key}: strategy {scope!r} has no parameter {sub!r}; allowed: "
                    + (", ".join(sorted(accepted[scope])) or "none")
                )
            routed[scope][sub] = value
            continue
        takers = [n for n in names if key in accepted[n]]
        if not takers:
            have = "; ".join(f"{n}: {', '.join(sorted(accepted[n])) or 'none'}" for n in names)
            raise ConfigError(f"--param {key}: no strategy of this run takes it ({have})")
        for n in takers:
            routed[n][key] = value
    return routed
