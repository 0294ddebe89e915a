"""BloodMNIST and DermaMNIST from generated files of the published MedMNIST ``.npz`` layout."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from refine.catalogue import hub_spec
from refine.datasets import dataset_entry, load_dataset, readers
from refine.errors import DataError
from refine.features import ResourceUnavailableError

SIZE = 224


def _write_npz(path, rng, n_train, n_val, n_test, n_classes, *, gray=False, label_cols=1):
    arrays = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        shape = (n, SIZE, SIZE) if gray else (n, SIZE, SIZE, 3)
        arrays[f"{split}_images"] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, n_classes, size=(n, label_cols)).astype(
            np.uint8
        )
    np.savez_compressed(path, **arrays)
    return arrays


@pytest.fixture(scope="module")
def medmnist_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("medmnist")
    rng = np.random.default_rng(0)
    blood = _write_npz(root / "bloodmnist_224.npz", rng, 6, 2, 3, 8)
    derma = _write_npz(root / "dermamnist_224.npz", rng, 5, 2, 4, 7)
    return root, blood, derma


def test_registry_entries():
    for name, k, n in (("bloodmnist", 8, 11_959), ("dermamnist", 7, 7_007)):
        entry = dataset_entry(name)
        assert (entry.n_classes, entry.batch_size, entry.needs_features) == (k, 10, True)
        assert f"{name}_224.npz" in entry.description and str(n) in entry.description


def test_bloodmnist_from_the_npz_file(medmnist_dir, cheap_backbone, tmp_path):
    root, blood, _ = medmnist_dir
    ds = load_dataset(
        "bloodmnist",
        backbone=cheap_backbone,
        data_dir=root,
        features_dir=tmp_path / "f",
        progress=False,
    )
    # the whole training split is the pool, the test split the test set; val is not used
    assert (ds.n_train, ds.X_test.shape[0], ds.n_classes, ds.batch_size) == (6, 3, 8, 10)
    np.testing.assert_array_equal(ds.y_train, blood["train_labels"][:, 0])
    np.testing.assert_array_equal(ds.y_test, blood["test_labels"][:, 0])
    assert ds.class_names is not None and ds.class_names[-1] == "platelet"
    # features are the backbone's features of the very images in the file, in file order
    expected = cheap_backbone.extract(list(blood["train_images"]), progress=False)
    np.testing.assert_allclose(ds.X_train, expected, rtol=1e-5, atol=1e-5)
    assert ds.metadata["source"]["format"] == "medmnist-npz"
    # the file itself as data_dir, and the long-tail option on top
    lt = load_dataset(
        "bloodmnist",
        backbone=cheap_backbone,
        data_dir=root / "bloodmnist_224.npz",
        features_dir=tmp_path / "f",
        imbalance_ratio=2,
    )
    assert lt.n_train < ds.n_train and lt.X_test.shape == ds.X_test.shape


def test_dermamnist_from_the_default_folder(medmnist_dir, cheap_backbone, tmp_path, monkeypatch):
    root, _, derma = medmnist_dir
    monkeypatch.setattr(readers, "MEDMNIST_DEFAULT_DIR", root)
    ds = load_dataset("dermamnist", backbone=cheap_backbone, features_dir=tmp_path, progress=False)
    assert (ds.n_train, ds.X_test.shape[0], ds.n_classes) == (5, 4, 7)
    np.testing.assert_array_equal(ds.y_test, derma["test_labels"][:, 0])


def test_missing_file_says_where_to_get_it(tmp_path, cheap_backbone, monkeypatch):
    monkeypatch.setattr(readers, "MEDMNIST_DEFAULT_DIR", tmp_path / "nothing")
    with pytest.raises(ResourceUnavailableError, match="bloodmnist_224.npz"):
        load_dataset("bloodmnist", backbone=cheap_backbone, features_dir=tmp_path)


def test_malformed_files_are_data_errors(tmp_path, cheap_backbone):
    rng = np.random.default_rng(1)
    bad = tmp_path / "keys"
    bad.mkdir()
    np.savez(bad / "bloodmnist_224.npz", images=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="train_images"):
        load_dataset("bloodmnist", backbone=cheap_backbone, data_dir=bad, features_dir=tmp_path)
    multi = tmp_path / "multi"
    multi.mkdir()
    _write_npz(multi / "bloodmnist_224.npz", rng, 2, 1, 1, 2, label_cols=3)
    with pytest.raises(DataError, match="single-label"):
        load_dataset("bloodmnist", backbone=cheap_backbone, data_dir=multi, features_dir=tmp_path)


def test_grayscale_arrays_and_pickled_views(tmp_path):
    rng = np.random.default_rng(2)
    arrays = _write_npz(tmp_path / "dermamnist_224.npz", rng, 3, 1, 2, 7, gray=True)
    raw = readers.open_split(hub_spec("dermamnist"), "train", tmp_path)
    assert len(raw.items) == 3 and raw.items._array is None  # shape read from the header only
    np.testing.assert_array_equal(raw.items[1], arrays["train_images"][1])
    clone = pickle.loads(pickle.dumps(raw.items))  # what DataLoader workers receive
    assert clone._array is None
    np.testing.assert_array_equal(clone[2], arrays["train_images"][2])


def test_dermamnist_through_a_real_architecture(medmnist_dir, dinov3_random, tmp_path):
    root, _, derma = medmnist_dir
    ds = load_dataset(
        "dermamnist", backbone=dinov3_random, data_dir=root, features_dir=tmp_path, progress=False
    )
    assert (ds.n_train, ds.n_features, ds.backbone) == (5, 384, "dinov3")
    assert ds.metadata["weights"] == "random-init(seed=0)"
    np.testing.assert_allclose(
        ds.X_test,
        dinov3_random.extract(list(derma["test_images"]), progress=False),
        rtol=1e-4,
        atol=1e-4,
    )
