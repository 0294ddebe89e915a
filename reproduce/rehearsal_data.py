"""Generated stand-ins of the paper's datasets and of EAT, in the formats the real ones come in.

The ``rehearsal`` preset (:mod:`reproduce.presets`) runs the paper preset's code path on these:
every dataset name of the paper is written as a tiny data set in the format a user will have on
disk, so that ``refine extract`` reads it through the same loader code as the real one
(:func:`refine.datasets.hub.open_split`):

============== ==================================================== =======================
dataset        format                                               like the real data
============== ==================================================== =======================
cifar10        ``datasets.DatasetDict.save_to_disk``, ``img``/``label``  ``uoft-cs/cifar10``
cifar100       ``save_to_disk``, ``img``/``fine_label``/``coarse_label`` ``uoft-cs/cifar100``
food101        hub snapshot: ``data/{train,validation}-*.parquet``  ``hf download ethz/food101``
snacks         hub parquet conversion: ``default/{train,test,validation}/0000.parquet``
tiny_imagenet  imagefolder with a ``valid/`` test folder, 64 × 64 px JPEG
dopanim        imagefolder ``train/`` and ``test/`` (the unpacked Zenodo archive's layout)
esc50          ``save_to_disk`` of one ``train`` split, ``audio``/``target``/``category``, 44.1 kHz
============== ==================================================== =======================

Images are small (32–64 px, some grayscale, RGBA or not square) with a class-dependent colour
plus noise; clips are two-second 44.1 kHz tones plus noise. Each data set has 18 train and 6
test instances of 3 classes (labels inside the real data set's ``[0, K)``).

EAT's model code lives on the Hugging Face hub (``trust_remote_code``), so not even its random
weights can be built offline. :func:`write_eat_standin_model` writes a local model folder in the
format of a downloaded one (``config.json`` with an ``auto_map``, the model code, safetensors
weights) whose model is :class:`refine.backbones.eat_standin.EATStandIn`; ``refine extract
--backbone eat --weights DIR`` loads it through the same ``transformers`` path as the real EAT.
"""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np

from refine.errors import DataError
from refine.seeding import child_rng

N_TRAIN, N_TEST, N_USED_CLASSES = 18, 6, 3
AUDIO_RATE = 44_100
#: The real data sets' class counts (labels of the stand-ins stay inside them).
N_CLASSES = {
    "cifar10": 10,
    "cifar100": 100,
    "food101": 101,
    "snacks": 20,
    "tiny_imagenet": 200,
    "dopanim": 15,
    "esc50": 50,
}
_FORMAT_VERSION = 1


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` labels covering the first N_USED_CLASSES classes, shuffled."""
    return rng.permutation(np.arange(n) % N_USED_CLASSES).astype(np.int64)


def _image(rng: np.random.Generator, label: int, i: int, size: tuple[int, int]):
    from PIL import Image

    h, w = size
    colour = np.array([60 + 50 * label, 200 - 40 * label, 40 + 30 * (label % 3)], dtype=float)
    pixels = np.clip(colour + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, mode="RGB")
    kind = i % 5
    if kind == 1:  # grayscale: the backbones' preprocessing makes three channels of it
        return img.convert("L")
    if kind == 2:  # RGBA and not square
        return img.resize((w + 8, h)).convert("RGBA")
    return img


def _split_images(name: str, split: str, n: int, size: tuple[int, int], seed: int):
    rng = child_rng(seed, "rehearsal", name, split)
    labels = _labels(rng, n)
    return [_image(rng, int(y), i, size) for i, y in enumerate(labels)], labels


def _class_names(name: str) -> list[str]:
    return [f"{name}_class_{k:03d}" for k in range(N_CLASSES[name])]


def _hf_split(name: str, split: str, n: int, size, seed: int, x_col: str, y_col: str, extra=None):
    import datasets

    images, labels = _split_images(name, split, n, size, seed)
    cols = {x_col: images, y_col: labels.tolist()}
    feats = {x_col: datasets.Image(), y_col: datasets.ClassLabel(names=_class_names(name))}
    for col, values in (extra or {}).items():
        cols[col] = values(labels)
        feats[col] = datasets.Value("int64")
    return datasets.Dataset.from_dict(cols, features=datasets.Features(feats))


def _save_to_disk(name: str, root: Path, seed: int, y_col: str, extra=None) -> Path:
    import datasets

    out = root / name
    dd = datasets.DatasetDict(
        {
            split: _hf_split(name, split, n, (32, 32), seed, "img", y_col, extra)
            for split, n in (("train", N_TRAIN), ("test", N_TEST))
        }
    )
    dd.save_to_disk(str(out))
    return out


def _parquet_snapshot(name: str, root: Path, seed: int, files: dict[str, str]) -> Path:
    """Parquet files named as in the hub snapshot (``files``: split → relative path)."""
    out = root / name
    for split, rel in files.items():
        n = N_TEST if split != "train" else N_TRAIN
        ds = _hf_split(name, split, n, (40, 48), seed, "image", "label")
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(path))
    return out


def _imagefolder(name: str, root: Path, seed: int, test_dir: str, size, ext: str) -> Path:
    out = root / name
    names = _class_names(name)
    for split, folder, n in (("train", "train", N_TRAIN), ("test", test_dir, N_TEST)):
        images, labels = _split_images(name, split, n, size, seed)
        for i, (img, y) in enumerate(zip(images, labels, strict=True)):
            d = out / folder / names[int(y)]
            d.mkdir(parents=True, exist_ok=True)
            img.convert("RGB").save(d / f"{split}_{i:04d}.{ext}")
    return out


def _esc50(root: Path, seed: int) -> Path:
    import datasets
    import pyarrow as pa
    import soundfile as sf

    rng = child_rng(seed, "rehearsal", "esc50")
    n = N_TRAIN + N_TEST
    labels = _labels(rng, n)
    t = np.arange(2 * AUDIO_RATE) / AUDIO_RATE
    records, names = [], []
    for i, y in enumerate(labels):
        wave = 0.05 * rng.normal(size=t.size) + 0.3 * np.sin(2 * np.pi * (300 + 500 * y) * t)
        buf = io.BytesIO()
        sf.write(buf, wave.astype(np.float32), AUDIO_RATE, format="WAV", subtype="PCM_16")
        names.append(f"1-{i:05d}-A-{int(y)}.wav")
        records.append({"bytes": buf.getvalue(), "path": names[-1]})
    table = pa.table(
        {
            "filename": names,
            "fold": pa.array([1 + i % 5 for i in range(n)], pa.int64()),
            "target": pa.array(labels.tolist(), pa.int64()),
            "category": [f"esc50_class_{int(y):03d}" for y in labels],
            "audio": pa.array(
                records, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            ),
        }
    )
    # built at the arrow level: datasets >= 4 needs torchcodec to *encode* audio examples
    ds = datasets.Dataset(table).cast_column("audio", datasets.Audio(decode=False))
    out = root / "esc50"
    datasets.DatasetDict({"train": ds}).save_to_disk(str(out))
    return out


_EAT_CONFIG_CODE = """
from transformers import PretrainedConfig


class EATStandInConfig(PretrainedConfig):
    model_type = "eat_standin"

    def __init__(self, embed_dim=768, depth=1, num_heads=8, seed=0, **kwargs):
        self.embed_dim, self.depth, self.num_heads, self.seed = embed_dim, depth, num_heads, seed
        super().__init__(**kwargs)
"""
_EAT_MODEL_CODE = '''
from transformers import PreTrainedModel

from refine.backbones.eat_standin import EATStandIn

from .configuration_eat_standin import EATStandInConfig


class EATStandInModel(PreTrainedModel):
    """EAT's interface (extract_features) around refine's EATStandIn, for offline rehearsals."""

    config_class = EATStandInConfig

    def __init__(self, config):
        super().__init__(config)
        self.encoder = EATStandIn(
            embed_dim=config.embed_dim,
            depth=config.depth,
            num_heads=config.num_heads,
            seed=config.seed,
        )
        self.post_init()

    def _init_weights(self, module):
        pass  # EATStandIn initialises itself from its seed

    def extract_features(self, mel):
        return self.encoder.extract_features(mel)

    def forward(self, mel):
        return self.encoder.extract_features(mel)
'''


def write_eat_standin_model(out: Path, seed: int = 0) -> Path:
    """A local EAT model folder (config, model code, safetensors weights) of the stand-in."""
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    (out / "configuration_eat_standin.py").write_text(textwrap.dedent(_EAT_CONFIG_CODE).lstrip())
    (out / "modeling_eat_standin.py").write_text(textwrap.dedent(_EAT_MODEL_CODE).lstrip())
    config = {
        "model_type": "eat_standin",
        "architectures": ["EATStandInModel"],
        "auto_map": {
            "AutoConfig": "configuration_eat_standin.EATStandInConfig",
            "AutoModel": "modeling_eat_standin.EATStandInModel",
        },
        "embed_dim": 768,
        "depth": 1,
        "num_heads": 8,
        "seed": int(seed),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    cfg = transformers.AutoConfig.from_pretrained(str(out), trust_remote_code=True)
    model = transformers.AutoModel.from_config(cfg, trust_remote_code=True)
    model.save_pretrained(str(out))
    return out


def generate(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write every stand-in data set (and the EAT model folder) under ``root``; return the paths.

    Idempotent: a complete earlier generation (``root/rehearsal.json``) is reused. A partial
    one (interrupted) is removed and written again.
    """
    root = Path(root)
    marker = root / "rehearsal.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("format") == _FORMAT_VERSION and info.get("seed") == seed:
            return {k: Path(v) for k, v in info["paths"].items()}
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    paths = {
        "cifar10": _save_to_disk("cifar10", root, seed, "label"),
        "cifar100": _save_to_disk(
            "cifar100", root, seed, "fine_label", {"coarse_label": lambda y: (y // 5).tolist()}
        ),
        "food101": _parquet_snapshot(
            "food101",
            root,
            seed,
            {
                "train": "data/train-00000-of-00001.parquet",
                "validation": "data/validation-00000-of-00001.parquet",
            },
        ),
        "snacks": _parquet_snapshot(
            "snacks",
            root,
            seed,
            {
                "train": "default/train/0000.parquet",
                "validation": "default/validation/0000.parquet",
                "test": "default/test/0000.parquet",
            },
        ),
        "tiny_imagenet": _imagefolder("tiny_imagenet", root, seed, "valid", (64, 64), "JPEG"),
        "dopanim": _imagefolder("dopanim", root, seed, "test", (48, 40), "jpg"),
        "esc50": _esc50(root, seed),
        "eat": write_eat_standin_model(root / "eat_standin_model", seed),
    }
    marker.write_text(
        json.dumps(
            {
                "format": _FORMAT_VERSION,
                "seed": seed,
                "paths": {k: str(v) for k, v in paths.items()},
            }
        )
    )
    return paths


def preset_settings(preset) -> list:
    """Every distinct (dataset, backbone) setting of ``preset``, in first-use order."""
    seen, out = set(), []
    for st in preset.main + preset.table2 + preset.fig5 + preset.fig6 + preset.fig8:
        if (st.dataset, st.backbone) not in seen:
            seen.add((st.dataset, st.backbone))
            out.append(st)
    return out


def extract_args(st, data_dir: Path, features_dir: str, device: str, weights: dict) -> list[str]:
    """The ``refine extract`` arguments of one setting of the rehearsal."""
    args = ["extract", "--dataset", st.dataset, "--backbone", st.backbone]
    args += ["--data-dir", str(data_dir), "--out", str(features_dir), "--device", device]
    if st.backbone in weights:
        args += ["--weights", str(weights[st.backbone])]
        if st.backbone == "eat":  # EAT's model code comes with its weights: an explicit opt-in
            args += ["--trust-remote-code"]
    else:
        args += ["--random-weights"]
    return [*args, "--quiet"]


def prepare(run) -> None:
    """Generate the data and run ``refine extract`` for every setting of the preset.

    Extraction goes through the ``refine`` command line itself (in this process), so the
    rehearsal covers the exact command a user runs. Features already cached are not recomputed.
    """
    import time

    import datasets
    from typer.main import get_command

    from refine.cli import app

    if run.data_dir is None:
        raise DataError("the rehearsal needs a data folder (ReproduceRun.data_dir)")
    datasets.disable_progress_bars()  # one bar per split and file of every tiny data set
    t0 = time.perf_counter()
    paths = generate(run.data_dir)
    run.weights.setdefault("eat", str(paths["eat"]))
    run.log(f"rehearsal data in {run.data_dir} ({time.perf_counter() - t0:.0f} s)")
    command = get_command(app)
    for st in preset_settings(run.preset):
        args = extract_args(st, paths[st.dataset], run.features_dir, run.device, run.weights)
        t0 = time.perf_counter()
        code = command.main(args, prog_name="refine", standalone_mode=False)
        if code:
            raise DataError(f"rehearsal: `refine {' '.join(args)}` failed (exit status {code})")
        run.log(f"  refine {' '.join(args)}  ({time.perf_counter() - t0:.1f} s)")
