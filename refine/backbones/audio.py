"""Audio backbone: EAT-base with the Kaldi fbank front end of its authors (Chen et al. 2024).

EAT (Efficient Audio Transformer) is a ViT over a 128-bin log-mel spectrogram cut into 16×16
patches. Its model code is not in a library: it lives in the hub repository
``worstchan/EAT-base_epoch30_pretrain`` (the checkpoint the published code used) and is loaded
with ``transformers.AutoModel.from_pretrained(..., trust_remote_code=True)``.

**Remote code is opt-in.** That code is arbitrary Python from the weights' repository (or from
the ``auto_map`` of a local ``weights_path`` folder), so :func:`refine.backbones.load_backbone`
refuses to run it unless asked with ``trust_remote_code=True`` (CLI: ``--trust-remote-code``);
from the hub it also needs ``revision``, the 40-hex commit to load (CLI: ``--revision``), passed
to transformers as both ``revision`` and ``code_revision`` so that a later push to the
repository cannot change what runs. A model given as ``model=`` runs no remote code.

**The EAT interface** this package relies on (and that :class:`refine.backbones.eat_standin.EATStandIn` implements): a
``torch.nn.Module`` with a method ``extract_features(mel)`` taking ``mel`` of shape
``[B, 1, T, F]`` (T = 1024 frames, F = 128 mel bins, normalised as below) and returning the
token sequence ``[B, 1 + P, D]`` after the final norm, CLS token first (D = 768 for EAT-base).
The feature is the CLS token ``extract_features(mel)[:, 0]``.

Preprocessing of one clip (docs/features.md, the published code's ``EATTransform``):

1. decode, average channels to mono, resample to 16 kHz;
2. subtract the waveform mean;
3. Kaldi fbank: 25 ms Hanning window, 10 ms shift, 128 mel bins (20 Hz – Nyquist), no dither,
   pre-emphasis 0.97, DC removal, power spectrum, log — :func:`kaldi_fbank`, a numpy
   re-implementation of ``torchaudio.compliance.kaldi.fbank`` (torchaudio has no release for the
   pinned torch, and kaldi-native-fbank refuses 128 bins at 16 kHz because one triangle is
   narrower than the FFT bin spacing; torchaudio keeps that bin, at ``log(eps)``). The tests
   check it against kaldi-native-fbank on the configurations that library accepts;
4. zero-pad or cut to 1024 frames (10.24 s);
5. normalise ``(x + 4.268) / (2 · 4.569)``.

Resampling uses :func:`scipy.signal.resample_poly` (polyphase, Kaiser window) where the
published code used torchaudio's windowed-sinc resampler; both are band-limited resamplers and
differ only in their filter's transition band.

EAT's own code cannot be loaded offline, so the tests run the real preprocessing and the real
extraction loop with :class:`~refine.backbones.eat_standin.EATStandIn`, a small random-weight encoder with EAT's interface;
the real load path is exercised in its offline-failing form.
"""

from __future__ import annotations

import io
import re
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from refine.backbones.base import (
    HF_CACHE_HINT,
    Backbone,
    BackboneSpec,
    build_frozen,
    register_backbone,
    require,
    resource_unavailable,
)
from refine.errors import ConfigError, DataError, unknown_choice

EAT_PREPROCESSING = {
    "modality": "audio",
    "mono": "mean over channels",
    "sample_rate": 16000,
    "resampler": "scipy.signal.resample_poly",
    "remove_mean": True,
    "fbank": "kaldi (torchaudio-compatible, refine numpy implementation v1)",
    "num_mel_bins": 128,
    "frame_length_ms": 25.0,
    "frame_shift_ms": 10.0,
    "window": "hanning",
    "dither": 0.0,
    "preemphasis": 0.97,
    "remove_dc_offset": True,
    "round_to_power_of_two": True,
    "snip_edges": True,
    "low_freq": 20.0,
    "high_freq": 0.0,
    "use_power": True,
    "use_log": True,
    "target_frames": 1024,
    "pad_value": 0.0,
    "norm_mean": -4.268,
    "norm_std": 4.569,
    "normalisation": "(x - norm_mean) / (2 * norm_std)",
}


def load_waveform(item: Any) -> tuple[np.ndarray, int]:
    """Decode a raw audio item into a mono float64 waveform and its sample rate.

    Accepts ``(waveform, rate)`` pairs, ``{"array", "sampling_rate"}`` dicts (decoded
    ``datasets.Audio``), ``{"bytes", "path"}`` dicts (undecoded ``datasets.Audio``) and file paths.
    Multi-channel audio (``samples × channels``) is averaged to mono.
    """
    if isinstance(item, tuple) and len(item) == 2:
        wave, rate = item
    elif isinstance(item, dict) and "array" in item:
        wave, rate = item["array"], item.get("sampling_rate")
    elif isinstance(item, (dict, str, Path)):
        sf = require("soundfile", "audio", "decoding audio files")
        if isinstance(item, dict):
            if item.get("bytes") is not None:
                src: Any = io.BytesIO(item["bytes"])
            elif item.get("path"):
                src = item["path"]
            else:
                raise DataError(f"audio record has neither bytes nor path: keys {sorted(item)}")
        else:
            src = str(item)
        wave, rate = sf.read(src, dtype="float64", always_2d=False)
    else:
        raise DataError(f"cannot interpret {type(item).__name__} as audio")
    if rate is None or int(rate) <= 0:
        raise DataError(f"audio item has no valid sampling rate (got {rate!r})")
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.ndim != 1 or wave.size == 0:
        raise DataError(
            f"audio must be a non-empty 1-D (or samples×channels) array, got {wave.shape}"
        )
    return wave, int(rate)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling from ``orig_rate`` to ``target_rate`` (polyphase filter)."""
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float64)
    from scipy.signal import resample_poly

    g = gcd(int(orig_rate), int(target_rate))
    return resample_poly(np.asarray(wave, dtype=np.float64), target_rate // g, orig_rate // g)


_WINDOWS = ("hanning", "hamming", "povey", "rectangular")


def _window(kind: str, length: int) -> np.ndarray:
    """Kaldi's analysis windows (symmetric: the denominator is ``length - 1``)."""
    n = np.arange(length, dtype=np.float64)
    a = 2.0 * np.pi / (length - 1)
    if kind == "hanning":
        return 0.5 - 0.5 * np.cos(a * n)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(a * n)
    if kind == "povey":
        return (0.5 - 0.5 * np.cos(a * n)) ** 0.85
    if kind == "rectangular":
        return np.ones(length)
    raise unknown_choice("window", kind, _WINDOWS)


def _mel(freq: np.ndarray | float) -> np.ndarray | float:
    return 1127.0 * np.log(1.0 + np.asarray(freq) / 700.0)


def kaldi_mel_banks(
    num_bins: int, padded_window: int, sample_rate: float, low_freq: float, high_freq: float
) -> np.ndarray:
    """Kaldi's triangular mel filters, ``num_bins × (padded_window // 2 + 1)``.

    Triangles are equally spaced on Kaldi's mel scale ``1127·ln(1 + f/700)`` between
    ``low_freq`` and ``high_freq`` (``<= 0`` means Nyquist minus its magnitude); an FFT bin gets
    weight only when its mel value lies strictly inside a triangle. A triangle narrower than the
    FFT bin spacing gets no weight at all (an *empty* bin). torchaudio's ``kaldi.fbank`` allows
    that and so does this function; Kaldi and kaldi-native-fbank refuse such configurations,
    which is why EAT's 128 bins at 16 kHz (bin 3 is empty) need this implementation.
    The last (Nyquist) column is always zero, as in Kaldi.
    """
    nyquist = 0.5 * sample_rate
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not 0.0 <= low_freq < high <= nyquist:
        raise ConfigError(
            f"mel range must satisfy 0 <= low_freq < high_freq <= Nyquist ({nyquist} Hz), "
            f"got low_freq={low_freq}, high_freq={high}"
        )
    n_fft_bins = padded_window // 2
    mel_fft = _mel(np.arange(n_fft_bins) * (sample_rate / padded_window))
    mel_low, mel_high = _mel(low_freq), _mel(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    left = mel_low + delta * np.arange(num_bins)[:, None]
    center, right = left + delta, left + 2.0 * delta
    up = (mel_fft[None, :] - left) / (center - left)
    down = (right - mel_fft[None, :]) / (right - center)
    weights = np.maximum(0.0, np.minimum(up, down))
    return np.concatenate([weights, np.zeros((num_bins, 1))], axis=1)


def kaldi_fbank(wave: np.ndarray, pre: dict | None = None) -> np.ndarray:
    """Kaldi log-mel filterbank of a waveform already at ``pre["sample_rate"]``: ``T×num_mel_bins``.

    A numpy implementation of ``torchaudio.compliance.kaldi.fbank`` (which EAT's authors call
    with ``htk_compat=True, sample_frequency=16000, use_energy=False, window_type='hanning',
    num_mel_bins=128, dither=0.0, frame_shift=10``): frames with ``snip_edges``, DC removal,
    pre-emphasis, window, zero-padding to a power of two, power spectrum, mel filters,
    ``log(max(x, float32 eps))``. Without the energy term ``htk_compat`` changes nothing.
    The tests check it against kaldi-native-fbank on configurations that library accepts.
    """
    pre = dict(EAT_PREPROCESSING if pre is None else pre)
    if float(pre["dither"]) != 0.0:
        # dithering is random; features must be a deterministic function of the audio
        raise ConfigError(f"dither must be 0 for deterministic features, got {pre['dither']}")
    rate = float(pre["sample_rate"])
    win = int(rate * float(pre["frame_length_ms"]) / 1000.0)
    shift = int(rate * float(pre["frame_shift_ms"]) / 1000.0)
    padded = 1 << (win - 1).bit_length() if pre["round_to_power_of_two"] else win
    num_bins = int(pre["num_mel_bins"])
    if not pre["snip_edges"]:
        raise ConfigError("only snip_edges=True (Kaldi's default, used by EAT) is implemented")
    x = np.asarray(wave, dtype=np.float64)
    if x.size < win:  # not a single full window: no frame
        return np.zeros((0, num_bins), dtype=np.float32)
    n_frames = 1 + (x.size - win) // shift
    # copy: the strided view shares memory with the waveform
    frames = np.array(np.lib.stride_tricks.sliding_window_view(x, win)[::shift][:n_frames])
    if pre["remove_dc_offset"]:
        frames -= frames.mean(axis=1, keepdims=True)
    coeff = float(pre["preemphasis"])
    if coeff != 0.0:
        prev = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
        frames = frames - coeff * prev
    frames = frames * _window(str(pre["window"]), win)
    spec = np.abs(np.fft.rfft(frames, n=padded, axis=1))
    if pre["use_power"]:
        spec = spec**2
    banks = kaldi_mel_banks(num_bins, padded, rate, float(pre["low_freq"]), float(pre["high_freq"]))
    energies = spec @ banks.T
    if pre["use_log"]:
        energies = np.log(np.maximum(energies, np.finfo(np.float32).eps))
    return energies.astype(np.float32)


def eat_features_input(item: Any, pre: dict | None = None) -> np.ndarray:
    """The full EAT front end for one clip: a ``1×target_frames×num_mel_bins`` float32 array."""
    pre = dict(EAT_PREPROCESSING if pre is None else pre)
    wave, rate = load_waveform(item)
    wave = resample(wave, rate, int(pre["sample_rate"]))
    if pre["remove_mean"]:
        wave = wave - wave.mean()
    mel = kaldi_fbank(wave, pre)
    target = int(pre["target_frames"])
    if mel.shape[0] < target:
        pad = np.full((target - mel.shape[0], mel.shape[1]), pre["pad_value"], dtype=np.float32)
        mel = np.concatenate([mel, pad], axis=0)
    else:
        mel = mel[:target]
    # normalisation after padding, as in the published code: padded frames become a constant
    mel = (mel - pre["norm_mean"]) / (2.0 * pre["norm_std"])
    return mel[None].astype(np.float32)


_COMMIT = re.compile(r"[0-9a-f]{40}")


def check_remote_code(
    source: str, local: bool, trust_remote_code: bool, revision: str | None
) -> dict[str, str]:
    """Allow EAT's remote code only when asked, and from the hub only at a pinned commit.

    Returns the keyword arguments pinning the revision for transformers (empty for a local
    folder).

    Raises
    ------
    ConfigError
        Without ``trust_remote_code``; from the hub without a 40-hex ``revision``; with a
        ``revision`` for a local folder (a folder has no revisions).
    """
    if not trust_remote_code:
        raise ConfigError(
            f"backbone 'eat' runs Python code shipped with its weights ({source}), not code "
            "from a library; pass --trust-remote-code (Python: trust_remote_code=True) to allow "
            "it" + ("" if local else ", with --revision COMMIT pinning the hub repository")
        )
    if local:
        if revision is not None:
            raise ConfigError(
                f"--revision pins a hub repository; --weights {source} is a local folder"
            )
        return {}
    if not isinstance(revision, str) or not _COMMIT.fullmatch(revision):
        raise ConfigError(
            f"loading backbone 'eat' from the hub ({source}) with remote code needs --revision "
            f"COMMIT, the full 40-character commit hash to load, got {revision!r}; look it up on "
            "the repository's page and review that commit's code"
        )
    return {"revision": revision, "code_revision": revision}


def _eat_encode(model: Any, batch: Any) -> Any:
    return model.extract_features(batch)[:, 0]


def _build_eat(
    spec: BackboneSpec,
    *,
    pretrained: bool,
    device: Any,
    weights_path: str | Path | None,
    model: Any,
    init_seed: int,
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> Backbone:
    import torch

    weights = spec.weights_descriptor(
        pretrained=pretrained, init_seed=init_seed, weights_path=weights_path
    )
    if model is not None:
        if not hasattr(model, "extract_features"):
            raise DataError(
                "a custom model for backbone 'eat' must implement extract_features(mel) -> "
                "[B, 1 + P, D] (see refine.backbones.eat_standin.EATStandIn)"
            )
        module = build_frozen(lambda: model, pretrained=True, init_seed=init_seed)
        weights = f"custom:{type(model).__name__}"
    else:
        source = (
            str(Path(weights_path).expanduser()) if weights_path is not None else spec.weights_id
        )
        pinned = check_remote_code(source, weights_path is not None, trust_remote_code, revision)
        transformers = require("transformers", "backbones", "backbone 'eat'")
        load_weights = pretrained or weights_path is not None
        hints = [
            f"download the model folder on a machine with network (`hf download {spec.weights_id} "
            "--local-dir EAT-base`) and pass weights_path=EAT-base (CLI: --weights PATH); "
            "EAT's model code is hub-hosted (trust_remote_code), so even random weights need it",
            HF_CACHE_HINT,
        ]

        def factory() -> Any:
            try:
                if load_weights:
                    return transformers.AutoModel.from_pretrained(
                        source, trust_remote_code=True, **pinned
                    )
                config = transformers.AutoConfig.from_pretrained(
                    source, trust_remote_code=True, **pinned
                )
                code = {"code_revision": pinned["code_revision"]} if pinned else {}
                return transformers.AutoModel.from_config(config, trust_remote_code=True, **code)
            except Exception as err:
                raise resource_unavailable(
                    "model code and weights of backbone 'eat'", source, err, hints
                ) from err

        module = build_frozen(factory, pretrained=load_weights, init_seed=init_seed)
    module = module.to(device)
    pre = dict(spec.preprocessing)

    def preprocess(item: Any) -> Any:
        return torch.from_numpy(eat_features_input(item, pre))

    return Backbone(spec, module, _eat_encode, preprocess, device, weights)


register_backbone(
    BackboneSpec(
        name="eat",
        modality="audio",
        library="transformers",
        architecture="worstchan/EAT-base_epoch30_pretrain",
        weights_id="worstchan/EAT-base_epoch30_pretrain",
        output_dim=768,
        pooling="CLS token of extract_features (after the final norm)",
        preprocessing=EAT_PREPROCESSING,
        packages=("torch", "transformers", "numpy", "scipy", "soundfile"),
        extra="audio",
        description="EAT-base (AudioSet pretrained, epoch 30) on 128-bin Kaldi fbank (default audio backbone)",
        reference="Chen et al. 2024, EAT: Self-Supervised Pre-Training with Efficient Audio Transformer",
        default=True,
        builder=_build_eat,
        remote_code=True,
    )
)
