"""The catalogue of the paper's image and audio data sets: where each comes from, what is used.

A plain-data module (it imports nothing from the package's layers), so that both the dataset
loaders (:mod:`refine.datasets.hub`) and the feature cache (:mod:`refine.features.from_cache`)
can read it without importing each other.

Where the data come from (the paper's Table 1; hub ids, revisions, splits and columns checked
against the hub's dataset cards):

============== ============================ ===================== ================= ======= ====
name           hub id                       splits (train / test) columns (x, y)    classes  b
============== ============================ ===================== ================= ======= ====
cifar10        ``uoft-cs/cifar10``          train / test          img, label        10      10
cifar100       ``uoft-cs/cifar100``         train / test          img, fine_label   100     100
food101        ``ethz/food101``             train / validation    image, label      101     100
tiny_imagenet  ``zh-plus/tiny-imagenet``    train / valid         image, label      200     200
snacks         ``Matthijs/snacks`` [1]_     train / test          image, label      20      20
dopanim        not on the hub [2]_          train / test (local)  image, label      15      50
esc50          ``ashraq/esc50``             train, 80/20 split    audio, target     50      20
bloodmnist     MedMNIST ``.npz`` [3]_       train / test (local)  images, labels    8       10
dermamnist     MedMNIST ``.npz`` [3]_       train / test (local)  images, labels    7       10
============== ============================ ===================== ================= ======= ====

.. [1] At revision ``refs/convert/parquet``: the repository's main branch holds a loading script,
   which ``datasets`` >= 4 no longer executes; the hub's parquet conversion has the same
   train (4 838) / validation (955) / test (952) splits. The published code used the test split.
.. [2] Dopanim (Herde et al. 2024) is published on Zenodo (doi:10.5281/zenodo.11479589, record
   14016659), not on the hub. Download and unpack it, then pass ``data_dir`` pointing at the
   folder with ``train/`` and ``test/`` (one sub-folder per class, as the archive ships them).
.. [3] MedMNIST v2 (Yang et al. 2023), 224 × 224 px, the files of the ``medmnist`` package
   (``bloodmnist_224.npz``, ``dermamnist_224.npz``; arrays ``train_images`` N×224×224×3 uint8,
   ``train_labels`` N×1, and the same for ``val`` and ``test``). The published code's CVPR
   experiments use the whole training split as the pool (BloodMNIST 11 959, DermaMNIST 7 007)
   and the test split (3 421, 2 005) for accuracy; the validation split is not used. Pass
   ``data_dir`` with the file (default: ``~/.medmnist``, where ``medmnist`` downloads it).

Tiny ImageNet's labelled ``valid`` split serves as the test split (its test split is unlabelled);
``zh-plus/tiny-imagenet`` holds the same files as ``Maysee/tiny-imagenet`` used by the published
code. ESC-50 ships one split of 2 000 five-second clips; as in the published code 80 % form the
pool and 20 % the test split, but our split is one seeded partition (``split_seed``, default
0). The published code drew the pool and the test split from two separate unseeded splits, so
test clips leaked into the pool; ``split="published"`` replays that mechanism (see
:mod:`refine.splits`). The features of all 2 000 clips are cached once (split ``all``) and the
split is drawn at load time.

Local copies (``data_dir``): a folder written by ``datasets.save_to_disk`` (a ``DatasetDict``
with the splits above), a hub snapshot (parquet files, e.g. from ``hf download <id>
--repo-type dataset --local-dir DIR``), an *imagefolder* (``DIR/train/<class>/*.jpg``,
``DIR/test/<class>/*.jpg``; ``valid``/``validation`` are accepted for the test split) or, for
ESC-50, an *audiofolder* of the same layout with ``.wav``/``.flac``/``.ogg`` files (read with
soundfile; one folder of class sub-folders without split folders is taken as the whole set).
"""

from __future__ import annotations

from dataclasses import dataclass

from refine.errors import unknown_choice

MEDMNIST_SOURCE = "https://medmnist.com (MedMNIST v2, files <flag>_224.npz on Zenodo)"
MEDMNIST_REFERENCE = (
    "Yang et al. 2023, MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D "
    "biomedical image classification"
)


@dataclass(frozen=True)
class HubDatasetSpec:
    """Where a dataset comes from and what the paper uses of it.

    Attributes
    ----------
    name : str
        Registry name.
    title : str
        Name as printed in the paper.
    hub_id : str or None
        Hugging Face dataset id (None: only local copies).
    revision : str or None
        Hub revision (branch, tag or commit) to load.
    train_split, test_split : str or None
        Hub split names used as pool and test split (``test_split=None``: random split).
    input_column, label_column : str
        Columns of the raw input and of the integer label.
    modality : {"image", "audio"}
        Kind of input (selects the default backbone).
    n_classes : int
        Number of classes K.
    batch_size : int
        The paper's b.
    n_train : int
        Pool size in the paper's Table 1.
    test_fraction : float or None
        Share of ``train_split`` used as test split when there is no official one.
    class_name_column : str or None
        Column holding the class name of each row (ESC-50's ``category``).
    source : str
        Human-readable origin (hub page, DOI).
    reference : str
        Citation.
    npz_flag : str or None
        MedMNIST data sets: the file-name stem of the published ``.npz`` files
        (``<flag>_<size>.npz``, e.g. ``bloodmnist_224.npz``).
    class_names : tuple of str or None
        Class names when the raw files carry none (MedMNIST's ``.npz`` holds only indices).
    """

    name: str
    title: str
    hub_id: str | None
    revision: str | None
    train_split: str
    test_split: str | None
    input_column: str
    label_column: str
    modality: str
    n_classes: int
    batch_size: int
    n_train: int
    source: str
    reference: str
    test_fraction: float | None = None
    class_name_column: str | None = None
    npz_flag: str | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def cache_splits(self) -> tuple[str, ...]:
        """Split names in the feature cache (``all`` for datasets split at load time)."""
        return ("all",) if self.test_fraction else ("train", "test")


HUB_DATASETS: dict[str, HubDatasetSpec] = {
    s.name: s
    for s in (
        HubDatasetSpec(
            name="cifar10",
            title="CIFAR-10",
            hub_id="uoft-cs/cifar10",
            revision=None,
            train_split="train",
            test_split="test",
            input_column="img",
            label_column="label",
            modality="image",
            n_classes=10,
            batch_size=10,
            n_train=50_000,
            source="https://huggingface.co/datasets/uoft-cs/cifar10",
            reference="Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images",
        ),
        HubDatasetSpec(
            name="cifar100",
            title="CIFAR-100",
            hub_id="uoft-cs/cifar100",
            revision=None,
            train_split="train",
            test_split="test",
            input_column="img",
            label_column="fine_label",
            modality="image",
            n_classes=100,
            batch_size=100,
            n_train=50_000,
            source="https://huggingface.co/datasets/uoft-cs/cifar100",
            reference="Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images",
        ),
        HubDatasetSpec(
            name="food101",
            title="Food-101",
            hub_id="ethz/food101",
            revision=None,
            train_split="train",
            test_split="validation",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=101,
            batch_size=100,
            n_train=75_750,
            source="https://huggingface.co/datasets/ethz/food101",
            reference="Bossard et al. 2014, Food-101 — Mining Discriminative Components with Random Forests",
        ),
        HubDatasetSpec(
            name="tiny_imagenet",
            title="Tiny ImageNet",
            hub_id="zh-plus/tiny-imagenet",
            revision=None,
            train_split="train",
            test_split="valid",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=200,
            batch_size=200,
            n_train=100_000,
            source="https://huggingface.co/datasets/zh-plus/tiny-imagenet",
            reference="Le & Yang 2015, Tiny ImageNet Visual Recognition Challenge",
        ),
        HubDatasetSpec(
            name="snacks",
            title="Snacks",
            hub_id="Matthijs/snacks",
            revision="refs/convert/parquet",
            train_split="train",
            test_split="test",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=20,
            batch_size=20,
            n_train=4_838,
            source="https://huggingface.co/datasets/Matthijs/snacks",
            reference="Hollemans 2019, Snacks (from Open Images)",
        ),
        HubDatasetSpec(
            name="dopanim",
            title="Dopanim",
            hub_id=None,
            revision=None,
            train_split="train",
            test_split="test",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=15,
            batch_size=50,
            n_train=10_484,
            source="https://doi.org/10.5281/zenodo.11479589 (Zenodo record 14016659)",
            reference="Herde et al. 2024, dopanim: A Dataset of Doppelganger Animals with Noisy Annotations from Multiple Humans",
        ),
        HubDatasetSpec(
            name="esc50",
            title="ESC-50",
            hub_id="ashraq/esc50",
            revision=None,
            train_split="train",
            test_split=None,
            input_column="audio",
            label_column="target",
            modality="audio",
            n_classes=50,
            batch_size=20,
            n_train=1_600,
            source="https://huggingface.co/datasets/ashraq/esc50",
            reference="Piczak 2015, ESC: Dataset for Environmental Sound Classification",
            test_fraction=0.2,
            class_name_column="category",
        ),
        HubDatasetSpec(
            name="bloodmnist",
            title="BloodMNIST",
            hub_id=None,
            revision=None,
            train_split="train",
            test_split="test",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=8,
            batch_size=10,
            n_train=11_959,
            source=MEDMNIST_SOURCE,
            reference=MEDMNIST_REFERENCE
            + "; Acevedo et al. 2020, A dataset of microscopic peripheral blood cell images",
            npz_flag="bloodmnist",
            class_names=(
                "basophil",
                "eosinophil",
                "erythroblast",
                "immature granulocytes (myelocytes, metamyelocytes and promyelocytes)",
                "lymphocyte",
                "monocyte",
                "neutrophil",
                "platelet",
            ),
        ),
        HubDatasetSpec(
            name="dermamnist",
            title="DermaMNIST",
            hub_id=None,
            revision=None,
            train_split="train",
            test_split="test",
            input_column="image",
            label_column="label",
            modality="image",
            n_classes=7,
            batch_size=10,
            n_train=7_007,
            source=MEDMNIST_SOURCE,
            reference=MEDMNIST_REFERENCE + "; Tschandl et al. 2018, The HAM10000 dataset",
            npz_flag="dermamnist",
            class_names=(
                "actinic keratoses and intraepithelial carcinoma",
                "basal cell carcinoma",
                "benign keratosis-like lesions",
                "dermatofibroma",
                "melanoma",
                "melanocytic nevi",
                "vascular lesions",
            ),
        ),
    )
}


def hub_spec(name: str) -> HubDatasetSpec:
    """The :class:`HubDatasetSpec` of ``name`` (clear error listing the valid names otherwise)."""
    try:
        return HUB_DATASETS[name]
    except KeyError:
        raise unknown_choice("dataset", name, HUB_DATASETS) from None
