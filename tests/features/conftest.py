"""Fixtures of the feature-cache tests: tiny generated image/audio datasets, cheap backbones.

Everything is generated: a handful of 32×32 random images (RGB, grayscale, RGBA and a
non-square one) and one-second random clips, written in the formats the loaders accept
(``datasets.save_to_disk``, an imagefolder, an audio folder). Model weights are random
(``pretrained=False``) or come from tiny stand-in modules, so nothing is downloaded.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

IMAGE_CLASSES = ("cat", "dog")
TRAIN_LABELS = [0, 1, 0, 1]
TEST_LABELS = [0, 1]
AUDIO_CLASSES = ("dog_bark", "rain", "siren")
AUDIO_LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
AUDIO_RATE = 44_100


@pytest.fixture(scope="session", autouse=True)
def _isolated_hf_caches(tmp_path_factory: pytest.TempPathFactory):
    """Keep the imagefolder/parquet builders' arrow caches out of the user's HF cache."""
    import datasets

    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
        yield


@pytest.fixture
def hf_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hugging Face libraries in offline mode with empty caches: any hub access fails fast.

    The libraries read ``HF_HUB_OFFLINE`` once at import, so the module constants are patched
    too; the cache paths point at an empty directory so a developer's populated cache cannot
    turn an expected failure into a (slow) success.
    """
    import datasets
    import huggingface_hub.constants as hub_constants

    empty = tmp_path / "empty_hf_home"
    empty.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(empty / "hub"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(empty / "datasets"))
    return empty


def _images(rng: np.random.Generator, n: int, offset: int) -> list[Image.Image]:
    out = []
    for i in range(n):
        kind = (i + offset) % 4
        if kind == 1:  # grayscale: must become 3 identical channels
            out.append(Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8), mode="L"))
        elif kind == 2:  # RGBA and not square: alpha dropped, aspect handled by the resize
            out.append(
                Image.fromarray(rng.integers(0, 256, (24, 40, 4), dtype=np.uint8), mode="RGBA")
            )
        else:
            out.append(
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), mode="RGB")
            )
    return out


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """4 train + 2 test random images, saved as a cifar10-style DatasetDict and an imagefolder."""
    import datasets

    root = tmp_path_factory.mktemp("tiny_images")
    rng = np.random.default_rng(0)
    train, test = _images(rng, len(TRAIN_LABELS), 0), _images(rng, len(TEST_LABELS), 1)
    features = datasets.Features(
        {"img": datasets.Image(), "label": datasets.ClassLabel(names=list(IMAGE_CLASSES))}
    )
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"img": train, "label": TRAIN_LABELS}, features=features
            ),
            "test": datasets.Dataset.from_dict(
                {"img": test, "label": TEST_LABELS}, features=features
            ),
        }
    )
    hub_dir = root / "hub_format"
    dd.save_to_disk(str(hub_dir))
    # imagefolder with a `valid` test folder (Tiny ImageNet's naming)
    folder = root / "imagefolder"
    for split, imgs, labels in (("train", train, TRAIN_LABELS), ("valid", test, TEST_LABELS)):
        for i, (img, y) in enumerate(zip(imgs, labels, strict=True)):
            d = folder / split / IMAGE_CLASSES[y]
            d.mkdir(parents=True, exist_ok=True)
            img.save(d / f"{i:03d}.png")
    return SimpleNamespace(
        hub_dir=hub_dir,
        folder=folder,
        train=train,
        test=test,
        train_labels=np.array(TRAIN_LABELS),
        test_labels=np.array(TEST_LABELS),
    )


def _wav_bytes(wave: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


@pytest.fixture(scope="session")
def tiny_audio(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """10 one-second 44.1 kHz clips (one stereo), ESC-50-style DatasetDict and an audio folder."""
    import datasets
    import pyarrow as pa
    import soundfile as sf

    root = tmp_path_factory.mktemp("tiny_audio")
    rng = np.random.default_rng(1)
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    waves = []
    for i, y in enumerate(AUDIO_LABELS):
        w = 0.05 * rng.normal(size=AUDIO_RATE) + 0.3 * np.sin(2 * np.pi * (300 + 400 * y) * t)
        if i == 3:  # stereo clip: averaged to mono by the front end
            w = np.stack([w, 0.5 * w], axis=1)
        waves.append(w.astype(np.float32))
    records = [
        {"bytes": _wav_bytes(w, AUDIO_RATE), "path": f"clip{i}.wav"} for i, w in enumerate(waves)
    ]
    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table(
        {
            "filename": [f"clip{i}.wav" for i in range(len(waves))],
            "target": pa.array(AUDIO_LABELS, pa.int64()),
            "category": [AUDIO_CLASSES[y] for y in AUDIO_LABELS],
            "audio": pa.array(records, type=audio_type),
        }
    )
    # built at the arrow level: datasets >= 4 needs torchcodec to *encode* audio examples
    ds = datasets.Dataset(table).cast_column("audio", datasets.Audio(decode=False))
    hub_dir = root / "esc_format"
    datasets.DatasetDict({"train": ds}).save_to_disk(str(hub_dir))
    folder = root / "audiofolder"
    for i, (w, y) in enumerate(zip(waves, AUDIO_LABELS, strict=True)):
        d = folder / AUDIO_CLASSES[y]
        d.mkdir(parents=True, exist_ok=True)
        sf.write(d / f"clip{i:02d}.wav", w, AUDIO_RATE)
    return SimpleNamespace(
        hub_dir=hub_dir, folder=folder, waves=waves, labels=np.array(AUDIO_LABELS), rate=AUDIO_RATE
    )


class PoolProjection(torch.nn.Module):
    """A near-free 'image backbone' (4×4 average pool + linear to 384-d) for cache-logic tests."""

    def __init__(self, dim: int = 384) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        gen = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Linear(48, dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(self.proj.weight.shape, generator=gen))
            self.proj.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(x).flatten(1))


@pytest.fixture(scope="session")
def cheap_backbone():
    """DINOv2's real preprocessing with the PoolProjection stand-in model (weights ``custom:``)."""
    from refine.backbones import load_backbone

    return load_backbone("dinov2", model=PoolProjection())


@pytest.fixture(scope="session")
def dinov3_random():
    """The real DINOv3 ViT-S/16 architecture with random weights (seed 0), built once."""
    from refine.backbones import load_backbone

    return load_backbone("dinov3", pretrained=False)


@pytest.fixture(scope="session")
def eat_standin():
    """The EAT backbone (real fbank front end) with the EATStandIn encoder."""
    from refine.backbones import EATStandIn, load_backbone

    return load_backbone("eat", model=EATStandIn(seed=0))
