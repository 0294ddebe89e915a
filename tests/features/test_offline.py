"""Offline behaviour: unreachable weights and data fail fast with a message, not a stack trace.

The real loading code runs (timm, open_clip, transformers ``trust_remote_code``, ``datasets``)
with the Hugging Face libraries in offline mode and empty caches, which is what a machine
without network sees.
"""

from __future__ import annotations

import time

import pytest

from refine.backbones import ResourceUnavailableError, load_backbone
from refine.datasets import load_dataset
from refine.errors import RefineError


def _check_message(err: BaseException, *needles: str) -> str:
    msg = str(err)
    assert isinstance(err, RefineError) and isinstance(err, OSError)
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert "Traceback" not in msg and len(msg) < 1500
    assert msg.count("\n") <= 6  # a few lines: what failed, then how to use a local copy
    return msg


@pytest.mark.parametrize(
    ("name", "weights_id", "local_file"),
    [
        ("dinov2", "timm/vit_small_patch14_reg4_dinov2.lvd142m", "model.safetensors"),
        ("dinov3", "timm/vit_small_patch16_dinov3.lvd1689m", "model.safetensors"),
        ("clip", "timm/vit_base_patch16_clip_224.openai", "open_clip_pytorch_model.bin"),
    ],
)
def test_unreachable_image_weights(hf_offline, name, weights_id, local_file):
    start = time.perf_counter()
    with pytest.raises(ResourceUnavailableError) as info:
        load_backbone(name, pretrained=True)
    assert time.perf_counter() - start < 60  # offline mode: no network retries
    _check_message(
        info.value,
        f"weights of backbone {name!r}",
        repr(weights_id),
        "weights_path=",
        "--weights",
        "HF_HOME",
        "HF_HUB_OFFLINE",
        local_file,
    )


def test_unreachable_eat_code_and_weights(hf_offline):
    for pretrained in (True, False):  # even random weights need EAT's hub-hosted model code
        with pytest.raises(ResourceUnavailableError) as info:
            load_backbone("eat", pretrained=pretrained, trust_remote_code=True, revision="0" * 40)
        _check_message(
            info.value,
            "'worstchan/EAT-base_epoch30_pretrain'",
            "trust_remote_code",
            "weights_path=",
        )


def test_missing_local_weights_file(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(ResourceUnavailableError) as info:
        load_backbone("dinov2", weights_path=missing)
    _check_message(info.value, str(missing), "no such file")
    with pytest.raises(ResourceUnavailableError, match="no such file"):
        load_backbone("clip-b32", weights_path=missing)


def test_unreachable_hub_dataset(hf_offline, tmp_path):
    tmp_path = tmp_path / "features"
    with pytest.raises(ResourceUnavailableError) as info:
        load_dataset("cifar10", backbone="dinov2", features_dir=tmp_path)
    msg = _check_message(
        info.value, "'uoft-cs/cifar10'", "split 'train'", "data_dir=", "--data-dir", "HF_HOME"
    )
    assert "hf download uoft-cs/cifar10 --repo-type dataset" in msg
    with pytest.raises(ResourceUnavailableError) as info:
        load_dataset("snacks", features_dir=tmp_path)
    _check_message(info.value, "'Matthijs/snacks'", "refs/convert/parquet")
    with pytest.raises(ResourceUnavailableError) as info:
        load_dataset("esc50", features_dir=tmp_path)
    _check_message(info.value, "'ashraq/esc50'", "audiofolder")
    assert not tmp_path.exists()  # nothing written


def test_dopanim_needs_a_local_copy(tmp_path):
    with pytest.raises(ResourceUnavailableError) as info:
        load_dataset("dopanim", features_dir=tmp_path)
    _check_message(info.value, "zenodo", "11479589", "data_dir=", "not on the Hugging Face hub")
