"""The feature cache: round trips, keys, corruption detection and rebuild, atomic writes."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import refine.features.cache as cache_mod
import refine.features.extract as extract_mod
from refine.backbones import Backbone
from refine.errors import ConfigError
from refine.features import (
    CacheCorruptedError,
    CacheMismatchError,
    CacheWarning,
    FeaturesNotFoundError,
    cache_key,
    cache_request,
    extract_features,
    list_caches,
    load_features_dataset,
    random_split_indices,
    read_cache,
    write_cache,
)
from refine.features.cache import public_version


def _entry_meta(key_extra: str = "") -> dict:
    identity = {"dataset": "toy", "split": "train", "extra": key_extra}
    versions = {"torch": "2.14.1"}
    return {"identity": identity, "versions": versions, "key": cache_key(identity, versions)}


def _write_toy(directory: Path, n: int = 7, d: int = 5) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(n, d)).astype(np.float32)
    labels = rng.integers(0, 3, size=n)
    meta = _entry_meta()
    path = directory / cache_mod.cache_filename("toy", "train", "b", meta["key"])
    write_cache(path, feats, labels, {**meta, "class_names": ["a", "b", "c"]})
    return path, feats, labels


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_round_trip_is_bit_identical(tmp_path):
    path, feats, labels = _write_toy(tmp_path)
    entry = read_cache(path)
    np.testing.assert_array_equal(entry.features, feats)
    np.testing.assert_array_equal(entry.labels, labels)
    assert entry.features.dtype == np.float32 and entry.labels.dtype == np.int64
    assert entry.metadata["class_names"] == ["a", "b", "c"]
    assert (entry.metadata["n"], entry.metadata["dim"]) == feats.shape
    assert len(entry.metadata["sha256"]) == 64
    assert path.name.endswith(f"__{entry.key[:16]}.npz")
    # plain numpy can read it without pickles
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"features", "labels", "metadata"}
    assert _files(tmp_path) == [path.name]  # no temp file left


def test_key_covers_identity_and_versions_only():
    ident = {"dataset": "cifar10", "preprocessing": {"resize": [256, 256], "crop": 224}}
    same = {"preprocessing": {"crop": 224, "resize": [256, 256]}, "dataset": "cifar10"}
    k = cache_key(ident, {"torch": "2.14.1", "timm": "1.0.31"})
    assert k == cache_key(same, {"timm": "1.0.31", "torch": "2.14.1"})  # order-free
    assert k != cache_key(
        {**ident, "preprocessing": {"resize": 224}}, {"torch": "2.14.1", "timm": "1.0.31"}
    )
    assert k != cache_key(ident, {"torch": "2.14.1", "timm": "1.0.32"})
    assert public_version("2.14.1+cu130") == "2.14.1"


def test_request_key_changes_with_backbone_weights_and_split():
    a = cache_request("cifar10", "train", "dinov2")
    assert a.identity["weights"] == "timm/vit_small_patch14_reg4_dinov2.lvd142m"
    assert set(a.versions) == {"torch", "torchvision", "pillow", "timm"}
    keys = {
        a.key,
        cache_request("cifar10", "test", "dinov2").key,
        cache_request("cifar10", "train", "dinov2-noreg").key,
        cache_request("cifar10", "train", "dinov2", pretrained=False).key,
        cache_request("cifar10", "train", "dinov2", pretrained=False, init_seed=1).key,
        cache_request("cifar100", "train", "dinov2").key,
    }
    assert len(keys) == 6
    assert cache_request("cifar10", "train", "dinov2").key == a.key


@pytest.mark.parametrize("size", [0, 10, "half", "minus1"])
def test_truncated_file_is_detected(tmp_path, size):
    path, _, _ = _write_toy(tmp_path)
    full = path.stat().st_size
    keep = {"half": full // 2, "minus1": full - 1}.get(size, size)
    with open(path, "r+b") as fh:
        fh.truncate(keep)
    with pytest.raises(CacheCorruptedError, match="cannot be read|corrupted|unreadable"):
        read_cache(path)


@pytest.mark.parametrize("where", [0.0, 0.05, 0.3, 0.5, 0.7, 0.9, 0.999])
def test_flipped_bytes_are_detected(tmp_path, where):
    path, _, _ = _write_toy(tmp_path, n=40, d=16)
    data = bytearray(path.read_bytes())
    pos = min(int(where * len(data)), len(data) - 1)
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CacheCorruptedError):
        read_cache(path)


def test_content_swapped_behind_a_valid_zip_is_detected(tmp_path):
    path, feats, labels = _write_toy(tmp_path)
    with np.load(path) as z:
        meta = z["metadata"]
    # a well-formed archive whose arrays no longer match the recorded sha256
    np.savez(path, features=feats + 1, labels=labels, metadata=meta)
    with pytest.raises(CacheCorruptedError, match="sha256"):
        read_cache(path)


def test_renamed_or_foreign_file_is_a_mismatch(tmp_path):
    path, _, _ = _write_toy(tmp_path)
    other = path.with_name("toy__train__b__0123456789abcdef.npz")
    shutil.copy(path, other)
    with pytest.raises(CacheMismatchError, match="not the key in its name"):
        read_cache(other)
    with pytest.raises(CacheMismatchError, match="other settings"):
        read_cache(path, expected_key="f" * 64)


def test_write_rejects_malformed_input(tmp_path):
    meta = _entry_meta()
    with pytest.raises(ValueError, match="N×D"):
        write_cache(tmp_path / "x.npz", np.zeros(3), np.zeros(3), meta)
    with pytest.raises(ValueError, match="lacks 'key'"):
        write_cache(
            tmp_path / "x.npz", np.zeros((3, 2)), np.zeros(3), {"identity": {}, "versions": {}}
        )


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    path, feats, labels = _write_toy(tmp_path)
    before = path.read_bytes()

    def half_then_interrupt(fh, *args):
        fh.write(b"PK\x03\x04 partial archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "_write_npz", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_cache(path, feats * 2, labels, _entry_meta())
    # the previous file is untouched and no temporary file is left behind
    assert _files(tmp_path) == [path.name]
    assert path.read_bytes() == before
    new = tmp_path / "sub" / "new.npz"
    with pytest.raises(KeyboardInterrupt):
        write_cache(new, feats, labels, _entry_meta("other"))
    assert _files(new.parent) == []


class _FailingItems:
    """Raw items that interrupt the extraction at index ``fail_at`` (as Ctrl-C would)."""

    def __init__(self, items, fail_at):
        self.items, self.fail_at = items, fail_at

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyboardInterrupt
        return self.items[i]


def test_interrupted_extraction_leaves_no_partial_file(tmp_path, tiny_images, cheap_backbone):
    out = tmp_path / "features"
    items = _FailingItems(tiny_images.train, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        extract_features(
            items,
            tiny_images.train_labels,
            dataset="tiny",
            split="train",
            features_dir=out,
            backbone=cheap_backbone,
            batch_size=2,
            progress=False,
        )
    assert _files(out) == []


def _extract(out, tiny_images, backbone, **kw):
    return extract_features(
        tiny_images.train,
        tiny_images.train_labels,
        dataset="tiny",
        split="train",
        features_dir=out,
        backbone=backbone,
        progress=False,
        **kw,
    )


def test_cache_hit_skips_the_backbone(tmp_path, tiny_images, cheap_backbone, monkeypatch):
    first = _extract(tmp_path, tiny_images, cheap_backbone, metadata={"n_classes": 2})
    assert first.status == "extracted" and first.features.shape == (4, 384)
    assert first.entry.metadata["n_classes"] == 2
    assert first.entry.metadata["identity"]["weights"] == "custom:PoolProjection"
    monkeypatch.setattr(Backbone, "extract", lambda *a, **k: pytest.fail("backbone ran"))
    second = _extract(tmp_path, tiny_images, cheap_backbone)
    assert second.status == "cached"
    np.testing.assert_array_equal(second.features, first.features)
    np.testing.assert_array_equal(second.labels, tiny_images.train_labels)


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign"])
def test_corrupted_or_mismatching_cache_is_rebuilt(tmp_path, tiny_images, cheap_backbone, damage):
    first = _extract(tmp_path, tiny_images, cheap_backbone)
    path = first.path
    if damage == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 3)
    elif damage == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:  # a valid cache file of other settings sitting under this name
        other, _, _ = _write_toy(tmp_path / "elsewhere")
        shutil.copy(other, path)
    with pytest.warns(CacheWarning, match="rebuilding"):
        rebuilt = _extract(tmp_path, tiny_images, cheap_backbone)
    assert rebuilt.status == "extracted"
    np.testing.assert_array_equal(rebuilt.features, first.features)
    assert read_cache(path).key == first.entry.key
    assert _files(tmp_path) == sorted([path.name, *(["elsewhere"] if damage == "foreign" else [])])


def test_rebuild_flag_and_label_length_check(tmp_path, tiny_images, cheap_backbone):
    first = _extract(tmp_path, tiny_images, cheap_backbone)
    again = _extract(tmp_path, tiny_images, cheap_backbone, rebuild=True)
    assert again.status == "extracted"
    np.testing.assert_array_equal(again.features, first.features)
    with pytest.raises(ValueError, match="one entry per item"):
        extract_features(
            tiny_images.train,
            [0, 1],
            dataset="tiny",
            split="train",
            features_dir=tmp_path,
            backbone=cheap_backbone,
        )


def _extract_tiny(out, tiny_images, backbone):
    meta = {"n_classes": 2, "class_names": ["cat", "dog"], "batch_size": 2}
    for split, items, labels in (
        ("train", tiny_images.train, tiny_images.train_labels),
        ("test", tiny_images.test, tiny_images.test_labels),
    ):
        extract_features(
            items,
            labels,
            dataset="tiny",
            split=split,
            features_dir=out,
            backbone=backbone,
            progress=False,
            metadata=meta,
        )


def test_load_features_dataset_for_any_extracted_dataset(tmp_path, tiny_images, cheap_backbone):
    _extract_tiny(tmp_path, tiny_images, cheap_backbone)
    ds = load_features_dataset("tiny", cheap_backbone, tmp_path)
    assert ds.describe() == {
        "dataset": "tiny",
        "backbone": "dinov2",
        "n_train": 4,
        "n_test": 2,
        "n_features": 384,
        "n_classes": 2,
        "batch_size": 2,
    }
    assert ds.class_names == ("cat", "dog")
    np.testing.assert_array_equal(ds.y_train, tiny_images.train_labels)
    assert ds.metadata["weights"] == "custom:PoolProjection"
    assert set(ds.metadata["cache_files"]) == {"train", "test"}
    assert load_features_dataset("tiny", cheap_backbone, tmp_path, batch_size=7).batch_size == 7
    rows = list_caches(tmp_path)
    assert [(r["split"], r["n"], r["dim"]) for r in rows] == [("test", 2, 384), ("train", 4, 384)]


def test_missing_features_say_how_to_create_them(tmp_path, tiny_images, cheap_backbone):
    with pytest.raises(
        FeaturesNotFoundError, match="refine extract --dataset cifar10 --backbone dinov2"
    ):
        load_features_dataset("cifar10", "dinov2", tmp_path)
    _extract_tiny(tmp_path, tiny_images, cheap_backbone)
    # features of other weights are never used in place of the requested ones
    with pytest.raises(FeaturesNotFoundError, match="other settings"):
        load_features_dataset("tiny", "dinov2", tmp_path)


def test_other_library_versions_warn_or_refuse(tmp_path, tiny_images, cheap_backbone, monkeypatch):
    real = extract_mod.library_versions

    def older(packages, public=True):
        out = real(packages, public=public)
        return {k: ("0.0.1" if k == "torch" else v) for k, v in out.items()}

    monkeypatch.setattr(extract_mod, "library_versions", older)
    _extract_tiny(tmp_path, tiny_images, cheap_backbone)
    monkeypatch.setattr(extract_mod, "library_versions", real)
    with pytest.warns(CacheWarning, match=r"torch 0\.0\.1 \(now"):
        ds = load_features_dataset("tiny", cheap_backbone, tmp_path)
    assert ds.n_train == 4
    with pytest.raises(FeaturesNotFoundError, match="other library versions"):
        load_features_dataset("tiny", cheap_backbone, tmp_path, strict_versions=True)


def test_corrupted_candidates_are_skipped_with_a_warning(tmp_path, tiny_images, cheap_backbone):
    _extract_tiny(tmp_path, tiny_images, cheap_backbone)
    for p in tmp_path.glob("tiny__test__*.npz"):
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(FeaturesNotFoundError):
        warnings.simplefilter("always")
        load_features_dataset("tiny", cheap_backbone, tmp_path)
    assert any(issubclass(w.category, CacheWarning) for w in caught)


def test_random_split_is_seeded_disjoint_and_complete():
    tr, te = random_split_indices(2000, 0.2, seed=0, name="esc50")
    assert (tr.size, te.size) == (1600, 400)
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(2000))
    tr2, te2 = random_split_indices(2000, 0.2, seed=0, name="esc50")
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, random_split_indices(2000, 0.2, seed=1, name="esc50")[1])
    with pytest.raises(ConfigError):
        random_split_indices(3, 0.1, seed=0)
    with pytest.raises(ConfigError):
        random_split_indices(10, 1.5, seed=0)


def test_no_temp_files_after_normal_extraction(tmp_path, tiny_images, cheap_backbone):
    _extract(tmp_path, tiny_images, cheap_backbone)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
