"""EAT's hub-hosted model code runs only when asked, and from the hub only at a pinned commit.

The checks come before transformers is touched, so the tests also show that nothing is imported
or executed from a ``--weights`` folder whose ``auto_map`` names its own code.
"""

from __future__ import annotations

import json

import pytest

from refine.backbones import load_backbone
from refine.errors import ConfigError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hostile_folder(tmp_path):
    """A model folder whose config points transformers at code that leaves a marker file."""
    d = tmp_path / "EAT-base"
    d.mkdir()
    marker = tmp_path / "code-ran"
    (d / "config.json").write_text(
        json.dumps(
            {
                "model_type": "eat",
                "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"},
            }
        )
    )
    (d / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import PretrainedConfig, PreTrainedModel\n"
        "class EvilConfig(PretrainedConfig):\n    model_type = 'eat'\n"
        "class EvilModel(PreTrainedModel):\n    config_class = EvilConfig\n"
    )
    return d, marker


def test_a_local_folder_runs_no_code_without_the_flag(hostile_folder):
    folder, marker = hostile_folder
    with pytest.raises(ConfigError, match="--trust-remote-code"):
        load_backbone("eat", weights_path=folder)
    with pytest.raises(ConfigError, match="--trust-remote-code"):
        load_backbone("eat", weights_path=folder, pretrained=False)
    assert not marker.exists()


def test_a_local_folder_has_no_revision(hostile_folder):
    folder, marker = hostile_folder
    with pytest.raises(ConfigError, match="local folder"):
        load_backbone("eat", weights_path=folder, trust_remote_code=True, revision=COMMIT)
    assert not marker.exists()


@pytest.mark.parametrize("revision", [None, "main", "0123abc", COMMIT.upper(), COMMIT + "0"])
def test_the_hub_needs_a_full_commit_hash(revision):
    with pytest.raises(ConfigError, match="40-character commit hash"):
        load_backbone("eat", trust_remote_code=True, revision=revision)


def test_the_hub_without_the_flag_names_both_flags():
    with pytest.raises(ConfigError, match="--trust-remote-code.*--revision COMMIT"):
        load_backbone("eat")


def test_revision_is_refused_for_library_backbones():
    with pytest.raises(ConfigError, match="--revision applies"):
        load_backbone("dinov2", pretrained=False, revision=COMMIT)


def test_trusted_and_pinned_requests_reach_transformers(monkeypatch):
    import transformers

    seen = {}

    class Stop(Exception):
        pass

    def fake_from_pretrained(source, **kwargs):
        seen.update(source=source, **kwargs)
        raise Stop

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", fake_from_pretrained)
    with pytest.raises(Exception) as info:
        load_backbone("eat", trust_remote_code=True, revision=COMMIT)
    assert isinstance(info.value.__cause__ or info.value, Stop)
    assert seen == {
        "source": "worstchan/EAT-base_epoch30_pretrain",
        "trust_remote_code": True,
        "revision": COMMIT,
        "code_revision": COMMIT,
    }
