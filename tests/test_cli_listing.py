"""``refine --version``, ``refine strategies`` and ``refine datasets``."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from refine.cli import _param_text, app, plain_text
from refine.strategies import available_strategies
from refine.strategies.registry import parameter_defaults

runner = CliRunner()


def invoke(*args):
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_version_is_the_packages():
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    (version,) = re.findall(r'(?m)^version = "([^"]+)"', pyproject)
    assert invoke("--version").strip() == f"refine {version}"


def test_plain_text_drops_docstring_markup():
    doc = "See :class:`~refine.filtering.ProgressiveFilter` with ``rounds`` = *R* and `m`."
    assert plain_text(doc) == "See refine.filtering.ProgressiveFilter with rounds = R and m."


def test_strategies_lists_every_parameter_with_its_default():
    out = invoke("strategies")
    assert "``" not in out and ":class:" not in out and ":func:" not in out
    blocks = {}
    name = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            name = line.split()[0]
            blocks[name] = ""
        elif name:
            blocks[name] += " " + line.strip()
    for n in available_strategies():
        params = parameter_defaults(n)
        text = re.sub(r"\s+", " ", blocks[n])
        for key, value in params.items():
            assert f"{key}={_param_text(value)}".replace(" ", "") in text.replace(" ", ""), (n, key)
        if not params:
            assert "(no parameters)" in text
    assert "rounds=5" in blocks["refine"] and "draws_per_strategy=11" in blocks["refine"]
    assert "sample_ratio=0.4" in blocks["filtered:<strategy>"]


def test_datasets_marks_what_works_offline():
    rows = {}
    for line in invoke("datasets").splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 5 and cells[0]:
            rows[cells[0]] = cells[3]
    assert rows["digits"] == "yes" and rows["synthetic"] == "yes"
    assert rows["cifar10"].startswith("no: hub") and rows["dopanim"].startswith("no: local")
