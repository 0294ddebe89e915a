"""EAT's audio front end (Kaldi fbank) and the extraction loop with a stand-in encoder.

EAT's model code lives on the Hugging Face hub (``trust_remote_code``) and cannot be loaded
offline; the extraction loop is tested with :class:`EATStandIn`, which implements EAT's
``extract_features`` interface. The fbank is checked against kaldi-native-fbank.
"""

from __future__ import annotations

import io

import kaldi_native_fbank as knf
import numpy as np
import pytest
import soundfile as sf

from refine.backbones import EAT_PREPROCESSING, eat_features_input, kaldi_fbank, load_waveform
from refine.backbones.audio import kaldi_mel_banks, resample
from refine.datasets import load_dataset
from refine.errors import ConfigError, DataError

LOG_EPS = float(np.log(np.finfo(np.float32).eps))
PAD_VALUE = (0.0 + 4.268) / (2 * 4.569)


def _test_wave(seconds: float = 1.5, rate: int = 16_000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    return 0.05 * rng.normal(size=t.size) + 0.3 * np.sin(2 * np.pi * 440 * t)


def _knf_fbank(wave: np.ndarray, num_bins: int) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    opts.frame_opts.frame_shift_ms = 10.0
    opts.frame_opts.frame_length_ms = 25.0
    opts.mel_opts.num_bins = num_bins
    opts.use_energy = False
    opts.htk_compat = True
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16000, wave.astype(np.float32))
    fb.input_finished()
    return np.stack([np.asarray(fb.get_frame(i)) for i in range(fb.num_frames_ready)])


@pytest.mark.parametrize("num_bins", [40, 80, 120])
def test_fbank_matches_kaldi_native_fbank(num_bins):
    wave = _test_wave()
    pre = {**EAT_PREPROCESSING, "num_mel_bins": num_bins}
    ours = kaldi_fbank(wave, pre)
    ref = _knf_fbank(wave, num_bins)
    assert ours.shape == ref.shape == (1 + (wave.size - 400) // 160, num_bins)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_eat_128_bins_keep_the_empty_bin_like_torchaudio():
    # Kaldi refuses 128 bins at 16 kHz (triangle 3 is narrower than the 31.25 Hz FFT spacing);
    # torchaudio, which EAT's authors used, keeps it with zero weight, i.e. log(eps).
    banks = kaldi_mel_banks(128, 512, 16000.0, 20.0, 0.0)
    assert banks.shape == (128, 257)
    assert np.all(banks[:, -1] == 0)  # Nyquist column
    empty = np.flatnonzero(banks.sum(axis=1) == 0)
    assert empty.tolist() == [3]
    assert banks.max() <= 1.0
    with pytest.raises(Exception, match="num_mel_bins too large"):
        _knf_fbank(_test_wave(), 128)
    feats = kaldi_fbank(_test_wave())
    assert feats.shape[1] == 128
    np.testing.assert_allclose(feats[:, 3], LOG_EPS, rtol=0, atol=1e-6)
    assert (np.delete(feats, 3, axis=1).max(axis=0) > LOG_EPS).all()  # all others carry energy


def test_fbank_rejects_random_dither_and_bad_ranges():
    with pytest.raises(ConfigError, match="dither"):
        kaldi_fbank(_test_wave(), {**EAT_PREPROCESSING, "dither": 1.0})
    with pytest.raises(ConfigError, match="low_freq"):
        kaldi_mel_banks(10, 512, 16000.0, 9000.0, 0.0)
    assert kaldi_fbank(np.zeros(100)).shape == (0, 128)  # shorter than one window


def test_eat_input_is_padded_or_cut_to_1024_frames_and_normalised():
    short = eat_features_input((_test_wave(1.0), 16000))
    assert short.shape == (1, 1024, 128) and short.dtype == np.float32
    n_real = 1 + (16000 - 400) // 160
    np.testing.assert_allclose(short[0, n_real:], PAD_VALUE, atol=1e-6)
    raw = kaldi_fbank(_test_wave(1.0) - _test_wave(1.0).mean())
    np.testing.assert_allclose(short[0, :n_real], (raw + 4.268) / (2 * 4.569), atol=1e-5)
    long = _test_wave(12.0)
    cut = eat_features_input((long, 16000))
    full = kaldi_fbank(long - long.mean())
    assert full.shape[0] > 1024
    np.testing.assert_allclose(cut[0], (full[:1024] + 4.268) / (2 * 4.569), atol=1e-5)
    # a DC offset is removed (waveform mean and per-frame DC removal)
    shifted = eat_features_input((_test_wave(1.0) + 0.5, 16000))
    np.testing.assert_allclose(shifted, short, atol=1e-3)


def test_resampling_keeps_the_frequency():
    rate = 44_100
    t = np.arange(2 * rate) / rate
    out = resample(np.sin(2 * np.pi * 1000 * t), rate, 16_000)
    assert out.size == 32_000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 16_000 / out.size - 1000) < 1
    same = np.arange(5.0)
    np.testing.assert_array_equal(resample(same, 16_000, 16_000), same)


def test_waveform_inputs(tmp_path):
    rng = np.random.default_rng(2)
    stereo = rng.normal(0, 0.1, size=(800, 2)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, stereo, 8000, format="WAV", subtype="FLOAT")
    path = tmp_path / "x.wav"
    path.write_bytes(buf.getvalue())
    mono = stereo.mean(axis=1)
    for item in (
        (stereo, 8000),
        {"array": stereo, "sampling_rate": 8000},
        {"bytes": buf.getvalue(), "path": None},
        {"bytes": None, "path": str(path)},
        path,
    ):
        wave, rate = load_waveform(item)
        assert rate == 8000
        np.testing.assert_allclose(wave, mono, atol=1e-6)
    with pytest.raises(DataError, match="sampling rate"):
        load_waveform({"array": mono, "sampling_rate": None})
    with pytest.raises(DataError, match="neither bytes nor path"):
        load_waveform({"bytes": None, "path": ""})
    with pytest.raises(DataError, match="cannot interpret"):
        load_waveform(3)
    with pytest.raises(DataError, match="non-empty"):
        load_waveform((np.zeros(0), 8000))


def test_extraction_loop_with_the_stand_in_encoder(eat_standin, tiny_audio):
    assert eat_standin.weights == "custom:EATStandIn"
    items = [(w, tiny_audio.rate) for w in tiny_audio.waves[:4]]
    feats = eat_standin.extract(items, batch_size=3, progress=False)
    assert feats.shape == (4, 768) and feats.dtype == np.float32 and np.isfinite(feats).all()
    again = eat_standin.extract(items[:2], batch_size=2, progress=False)
    np.testing.assert_array_equal(
        again, eat_standin.extract(items[:2], batch_size=2, progress=False)
    )
    np.testing.assert_allclose(again, feats[:2], rtol=1e-4, atol=1e-5)
    # the CLS token of extract_features is the feature
    import torch

    x = eat_standin.preprocess(items[0])[None]
    assert tuple(x.shape) == (1, 1, 1024, 128)
    with torch.inference_mode():
        tokens = eat_standin.model.extract_features(x)
    assert tuple(tokens.shape) == (1, 1 + 64 * 8, 768)
    np.testing.assert_allclose(feats[0], tokens[0, 0].numpy(), rtol=1e-4, atol=1e-5)


def test_custom_eat_model_must_follow_the_interface():
    import torch

    from refine.backbones import load_backbone

    with pytest.raises(DataError, match="extract_features"):
        load_backbone("eat", model=torch.nn.Linear(2, 2))


def test_esc50_seeded_split_from_a_local_copy(eat_standin, tiny_audio, tmp_path, monkeypatch):
    out = tmp_path / "features"
    ds = load_dataset(
        "esc50", backbone=eat_standin, features_dir=out, data_dir=tiny_audio.hub_dir, progress=False
    )
    assert (ds.n_train, len(ds.y_test), ds.n_classes, ds.batch_size) == (8, 2, 50, 20)
    assert ds.backbone == "eat" and ds.metadata["split_seed"] == 0
    assert [p.name.split("__")[1] for p in out.glob("*.npz")] == ["all"]
    # the split is drawn at load time from the cached features of all clips: no re-extraction
    monkeypatch.setattr(type(eat_standin), "extract", lambda *a, **k: pytest.fail("re-extracted"))
    same = load_dataset(
        "esc50", backbone=eat_standin, features_dir=out, data_dir=tiny_audio.hub_dir
    )
    np.testing.assert_array_equal(same.X_train, ds.X_train)
    np.testing.assert_array_equal(same.y_test, ds.y_test)
    other = load_dataset("esc50", backbone=eat_standin, features_dir=out, split_seed=5)
    assert not np.array_equal(np.sort(other.X_test[:, 0]), np.sort(ds.X_test[:, 0]))
    all_feats = np.concatenate([ds.X_train, ds.X_test])
    np.testing.assert_array_equal(
        np.sort(all_feats, axis=0), np.sort(np.concatenate([other.X_train, other.X_test]), axis=0)
    )


def test_esc50_from_an_audio_folder(eat_standin, tiny_audio, tmp_path):
    hub = load_dataset(
        "esc50",
        backbone=eat_standin,
        features_dir=tmp_path / "a",
        data_dir=tiny_audio.hub_dir,
        progress=False,
    )
    folder = load_dataset(
        "esc50",
        backbone=eat_standin,
        features_dir=tmp_path / "b",
        data_dir=tiny_audio.folder,
        progress=False,
    )
    assert folder.metadata["source"]["local"].endswith("audiofolder")
    hub_all = np.concatenate([hub.X_train, hub.X_test])
    folder_all = np.concatenate([folder.X_train, folder.X_test])
    # same clips (decoded from files instead of wav bytes): every row has one twin, equal up to
    # float32 round-off of the batched forward pass (measured up to 1.0e-5, the batches differ),
    # while different clips lie ≥ 2e-2 apart
    dist = np.abs(folder_all[:, None, :] - hub_all[None, :, :]).max(axis=2)
    nearest = np.sort(dist, axis=1)
    assert nearest[:, 0].max() < 1e-4
    assert nearest[:, 1].min() > 1e-3
    assert sorted(dist.argmin(axis=1)) == list(range(len(hub_all)))  # one-to-one
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([folder.y_train, folder.y_test])),
        np.bincount(tiny_audio.labels),
    )


def test_image_backbone_on_audio_data_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="takes image input but dataset 'esc50' is audio"):
        load_dataset("esc50", backbone="dinov2", features_dir=tmp_path)
