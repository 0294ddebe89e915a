"""Reading a project's features once: the array of ``np.load`` and the digest of ``sha256_file``."""

from __future__ import annotations

import numpy as np
import pytest

from refine.project.store import load_npy_verified, sha256_file


@pytest.mark.parametrize(
    "shape,dtype",
    [((7, 3), np.float32), ((0, 4), np.float32), ((5,), np.int64), ((2, 3, 4), np.float64)],
)
@pytest.mark.parametrize("chunk", [1, 13, 1 << 22])
def test_one_read_gives_np_load_and_the_file_digest(tmp_path, shape, dtype, chunk):
    path = tmp_path / "x.npy"
    X = np.random.default_rng(0).normal(size=shape).astype(dtype)
    np.save(path, X)
    digest = sha256_file(path)
    got, d = load_npy_verified(path, digest, chunk=chunk)
    assert d == digest
    np.testing.assert_array_equal(got, X)
    assert got.dtype == X.dtype and got.shape == X.shape and got.flags.c_contiguous
    got, d = load_npy_verified(path, None, chunk=chunk)
    assert d == digest and np.array_equal(got, X)


def test_version_2_headers_and_fortran_order(tmp_path):
    path = tmp_path / "v2.npy"
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, X, version=(2, 0))
    got, d = load_npy_verified(path, sha256_file(path))
    np.testing.assert_array_equal(got, X)
    np.save(path, np.asfortranarray(X))  # read by np.load after a separate hash
    got, d = load_npy_verified(path, sha256_file(path))
    assert d == sha256_file(path) and np.array_equal(got, X)


def test_a_changed_byte_or_trailing_bytes_fail_the_check_and_return_no_array(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 4), np.float32))
    digest = sha256_file(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 1  # inside the array
    path.write_bytes(bytes(data))
    got, d = load_npy_verified(path, digest)
    assert got is None and d == sha256_file(path) != digest
    data[-3] ^= 1
    path.write_bytes(bytes(data) + b"\0")  # np.load would ignore these; the digest does not
    got, d = load_npy_verified(path, digest)
    assert got is None and d == sha256_file(path) != digest


def test_truncated_or_foreign_files_raise_value_error(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 4), np.float32))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="ends inside its array"):
        load_npy_verified(path, None)
    path.write_bytes(b"not an npy file at all")
    with pytest.raises(ValueError):
        load_npy_verified(path, None)
