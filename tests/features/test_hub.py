"""Dataset registry entries of the paper's datasets, loaded from local copies as features."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from refine.backbones import Backbone
from refine.datasets import available_datasets, dataset_entry, load_dataset
from refine.datasets.hub import HUB_DATASETS, open_split
from refine.errors import ConfigError, DataError
from refine.features import load_features_dataset

# the paper's Table 1 (and the CVPR version's medical data sets): classes and b of every dataset
PAPER_TABLE = {
    "cifar10": (10, 10),
    "cifar100": (100, 100),
    "food101": (101, 100),
    "tiny_imagenet": (200, 200),
    "snacks": (20, 20),
    "dopanim": (15, 50),
    "esc50": (50, 20),
    "bloodmnist": (8, 10),
    "dermamnist": (7, 10),
}


def test_registry_entries_follow_the_papers_table():
    assert set(PAPER_TABLE) <= set(available_datasets())
    for name, (k, b) in PAPER_TABLE.items():
        entry = dataset_entry(name)
        assert (entry.n_classes, entry.batch_size, entry.needs_features) == (k, b, True)
        assert (HUB_DATASETS[name].n_classes, HUB_DATASETS[name].batch_size) == (k, b)
    assert "batch_size=10" in dataset_entry("snacks").description


def test_hub_ids_splits_and_columns_are_documented():
    got = {
        n: (s.hub_id, s.revision, s.train_split, s.test_split, s.input_column, s.label_column)
        for n, s in HUB_DATASETS.items()
    }
    assert got == {
        "cifar10": ("uoft-cs/cifar10", None, "train", "test", "img", "label"),
        "cifar100": ("uoft-cs/cifar100", None, "train", "test", "img", "fine_label"),
        "food101": ("ethz/food101", None, "train", "validation", "image", "label"),
        "tiny_imagenet": ("zh-plus/tiny-imagenet", None, "train", "valid", "image", "label"),
        "snacks": ("Matthijs/snacks", "refs/convert/parquet", "train", "test", "image", "label"),
        "dopanim": (None, None, "train", "test", "image", "label"),
        "esc50": ("ashraq/esc50", None, "train", None, "audio", "target"),
        "bloodmnist": (None, None, "train", "test", "image", "label"),
        "dermamnist": (None, None, "train", "test", "image", "label"),
    }
    assert HUB_DATASETS["esc50"].test_fraction == 0.2
    assert [s.n_train for s in HUB_DATASETS.values()] == [
        50_000,
        50_000,
        75_750,
        100_000,
        4_838,
        10_484,
        1_600,
        11_959,
        7_007,
    ]


def test_cifar10_from_a_saved_datasetdict(tmp_path, tiny_images, dinov3_random, monkeypatch):
    out = tmp_path / "features"
    ds = load_dataset(
        "cifar10",
        backbone=dinov3_random,
        features_dir=out,
        data_dir=tiny_images.hub_dir,
        progress=False,
    )
    assert ds.describe() == {
        "dataset": "cifar10",
        "backbone": "dinov3",
        "n_train": 4,
        "n_test": 2,
        "n_features": 384,
        "n_classes": 10,
        "batch_size": 10,
    }
    np.testing.assert_array_equal(ds.y_train, tiny_images.train_labels)
    np.testing.assert_array_equal(ds.y_test, tiny_images.test_labels)
    assert ds.metadata["weights"] == "random-init(seed=0)"
    assert ds.metadata["source"]["format"] == "save_to_disk"
    np.testing.assert_array_equal(
        ds.X_test, dinov3_random.extract(tiny_images.test, batch_size=64, progress=False)
    )
    # second call: the cache answers, the backbone does not run
    monkeypatch.setattr(Backbone, "extract", lambda *a, **k: pytest.fail("backbone ran"))
    again = load_dataset(
        "cifar10",
        backbone="dinov3",
        pretrained=False,
        features_dir=out,
        data_dir=tiny_images.hub_dir,
    )
    np.testing.assert_array_equal(again.X_train, ds.X_train)
    # the AL loop's entry point: only the features directory
    from_dir = load_features_dataset("cifar10", "dinov3", out, pretrained=False)
    np.testing.assert_array_equal(from_dir.X_train, ds.X_train)
    assert from_dir.batch_size == 10


def test_tiny_imagenet_from_an_imagefolder_with_a_valid_split(tmp_path, tiny_images, dinov3_random):
    ds = load_dataset(
        "tiny_imagenet",
        backbone=dinov3_random,
        features_dir=tmp_path,
        data_dir=tiny_images.folder,
        progress=False,
    )
    assert (ds.n_train, len(ds.y_test), ds.n_classes, ds.batch_size) == (4, 2, 200, 200)
    assert ds.metadata["source"]["format"] == "imagefolder"
    # imagefolder labels come from the class folders (cat=0, dog=1)
    np.testing.assert_array_equal(np.sort(ds.y_train), np.sort(tiny_images.train_labels))
    # same pixels as the in-memory test images (valid/cat/000.png, valid/dog/001.png)
    np.testing.assert_allclose(
        ds.X_test, dinov3_random.extract(tiny_images.test, batch_size=64, progress=False), atol=1e-5
    )


def test_snacks_batch_size_option(tmp_path, tiny_images, cheap_backbone):
    kw = dict(
        backbone=cheap_backbone, features_dir=tmp_path, data_dir=tiny_images.hub_dir, progress=False
    )
    assert load_dataset("snacks", **kw).batch_size == 20
    assert load_dataset("snacks", batch_size=10, **kw).batch_size == 10


def test_hub_column_and_label_handling(tmp_path, cheap_backbone):
    feats = datasets.Features({"image": datasets.Image(), "label": datasets.Value("string")})
    imgs = [np.full((8, 8, 3), v, dtype=np.uint8) for v in (0, 80, 160, 240)]
    split = datasets.Dataset.from_dict(
        {"image": imgs, "label": ["b", "a", "b", "a"]}, features=feats
    )
    root = tmp_path / "strings"
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(root))
    raw = open_split(HUB_DATASETS["food101"], "train", root)
    assert raw.class_names == ["a", "b"]
    np.testing.assert_array_equal(raw.labels, [1, 0, 1, 0])
    assert raw.source["input_column"] == "image" and raw.source["label_column"] == "label"
    assert np.asarray(raw.items[1]).mean() == 80


def test_bad_local_copies_give_clear_errors(tmp_path, tiny_images, cheap_backbone):
    # The cache is keyed by dataset name, not by where the raw data came from, so each bad copy
    # gets its own features directory: a split cached from one copy must not answer for another.
    def load(name, data_dir, case):
        return load_dataset(
            name,
            backbone=cheap_backbone,
            features_dir=tmp_path / case,
            data_dir=data_dir,
            progress=False,
        )

    with pytest.raises(ConfigError, match="is not a directory"):
        load("cifar10", tmp_path / "nowhere", "f0")
    dd = datasets.load_from_disk(str(tiny_images.hub_dir))
    only_train = tmp_path / "only_train"
    dd["train"].save_to_disk(str(only_train))
    with pytest.raises(DataError, match="single split"):
        load("cifar10", only_train, "f1")
    renamed = tmp_path / "renamed"
    datasets.DatasetDict({"fit": dd["train"], "holdout": dd["test"]}).save_to_disk(str(renamed))
    with pytest.raises(
        DataError, match=r"no split for the train data.*\['train'\], found \['fit', 'holdout'\]"
    ):
        load("cifar10", renamed, "f2")
    no_label = tmp_path / "no_label"
    dd.rename_column("label", "klass").save_to_disk(str(no_label))
    with pytest.raises(DataError, match="no label column"):
        load("cifar10", no_label, "f3")
    many = tmp_path / "many_classes"
    big = datasets.Dataset.from_dict(
        {"img": [np.zeros((8, 8, 3), dtype=np.uint8)] * 2, "label": [0, 25]},
        features=datasets.Features({"img": datasets.Image(), "label": datasets.Value("int64")}),
    )
    datasets.DatasetDict({"train": big, "test": big}).save_to_disk(str(many))
    with pytest.raises(DataError, match=r"labels of 'snacks' must lie in \[0, 20\)"):
        load("snacks", many, "f4")
    assert not list((tmp_path / "f4").glob("*.npz"))  # label errors surface before extraction


def test_unknown_dataset_and_backbone_names():
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ConfigError, match="unknown backbone 'vit'"):
        load_dataset("cifar10", backbone="vit")
