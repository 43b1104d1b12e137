"""Download (from a local HTTP server on 127.0.0.1), safe extraction and fetching into loader layouts."""
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import struct
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from lmnet.datasets.cifar10 import Cifar10
from lmnet.datasets.download import DATASET_SOURCES, download, extract, fetch_dataset
from lmnet.datasets.mnist import Mnist
from lmnet.errors import DatasetError


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves ``tmp_path / "served"`` on 127.0.0.1; yields ``(folder, base_url)``."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _md5(data):
    return hashlib.md5(data).hexdigest()


def _add(tar, name, data=b"", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------------------------------------- download

def test_download_verifies_sha256_and_md5(server, tmp_path):
    served, base_url = server
    payload = os.urandom(300_000)
    (served / "blob.bin").write_bytes(payload)
    target = tmp_path / "downloads"
    target.mkdir()
    path = download(base_url + "blob.bin", str(target / "copy.bin"), sha256=_sha256(payload), progress=True)
    assert path == str(target / "copy.bin")
    assert (target / "copy.bin").read_bytes() == payload
    path = download(base_url + "blob.bin", str(target), md5=_md5(payload), progress=False)
    assert path == str(target / "blob.bin") and (target / "blob.bin").read_bytes() == payload
    assert sorted(os.listdir(target)) == ["blob.bin", "copy.bin"]


def test_download_checksum_mismatch_names_url_and_digests_and_cleans_up(server, tmp_path):
    served, base_url = server
    payload = b"tampered content"
    (served / "data.tar.gz").write_bytes(payload)
    target = tmp_path / "downloads"
    target.mkdir()
    wrong = "0" * 64
    with pytest.raises(DatasetError) as error:
        download(base_url + "data.tar.gz", str(target / "data.tar.gz"), sha256=wrong, progress=False)
    message = str(error.value)
    assert base_url + "data.tar.gz" in message and wrong in message and _sha256(payload) in message
    assert os.listdir(target) == []


def test_download_md5_mismatch_names_digests(server, tmp_path):
    served, base_url = server
    (served / "file.gz").write_bytes(b"abc")
    with pytest.raises(DatasetError) as error:
        download(base_url + "file.gz", str(tmp_path / "file.gz"), md5="f" * 32, progress=False)
    assert "file.gz" in str(error.value) and "f" * 32 in str(error.value) and _md5(b"abc") in str(error.value)
    assert not (tmp_path / "file.gz").exists()


def test_download_http_error_names_url(server, tmp_path):
    _, base_url = server
    with pytest.raises(DatasetError) as error:
        download(base_url + "missing.tar.gz", str(tmp_path / "missing.tar.gz"), progress=False)
    assert base_url + "missing.tar.gz" in str(error.value) and "404" in str(error.value)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".missing")]


def test_download_refuses_non_http_scheme(tmp_path):
    source = tmp_path / "local.txt"
    source.write_text("x")
    with pytest.raises(DatasetError, match="local.txt"):
        download(source.as_uri(), str(tmp_path / "copy.txt"), progress=False)


# ---------------------------------------------------------------------------------------------- extract

@pytest.mark.parametrize("suffix, mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz")])
def test_extract_tar_archives(tmp_path, suffix, mode):
    archive = tmp_path / f"bundle{suffix}"
    with tarfile.open(archive, mode) as tar:
        _add(tar, "top/a.txt", b"alpha")
        _add(tar, "top/sub/b.bin", b"\x00\x01")
        _add(tar, "top/link", type=tarfile.SYMTYPE, linkname="a.txt")
    out = tmp_path / "out"
    assert extract(str(archive), str(out)) == str(out)
    assert (out / "top" / "a.txt").read_bytes() == b"alpha"
    assert (out / "top" / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert (out / "top" / "link").read_bytes() == b"alpha"


def test_extract_zip_and_gz(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("dir/file.txt", "zipped")
    extract(str(archive), str(tmp_path / "zip_out"))
    assert (tmp_path / "zip_out" / "dir" / "file.txt").read_text() == "zipped"
    single = tmp_path / "numbers.bin.gz"
    with gzip.open(single, "wb") as stream:
        stream.write(b"123456")
    extract(str(single), str(tmp_path / "gz_out"))
    assert (tmp_path / "gz_out" / "numbers.bin").read_bytes() == b"123456"


@pytest.mark.parametrize("member, fields", [
    ("../evil", {}),
    ("ok/../../evil", {}),
    ("/tmp/evil_absolute", {}),
    ("link_out", {"type": tarfile.SYMTYPE, "linkname": "../../outside"}),
    ("link_abs", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}),
    ("hard_out", {"type": tarfile.LNKTYPE, "linkname": "../outside"}),
    ("device", {"type": tarfile.CHRTYPE}),
])
def test_extract_refuses_escaping_tar_members(tmp_path, member, fields):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        _add(tar, "innocent.txt", b"fine")
        _add(tar, member, b"" if fields else b"pwned", **fields)
    out = tmp_path / "deep" / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out))
    assert "evil.tar.gz" in str(error.value) and member in str(error.value)
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not os.path.exists("/tmp/evil_absolute")
    assert os.listdir(out) == []  # checked before anything was written


def test_extract_refuses_symlink_chain_escape(tmp_path):
    archive = tmp_path / "chain.tar"
    with tarfile.open(archive, "w") as tar:
        _add(tar, "a", type=tarfile.SYMTYPE, linkname=".")
        _add(tar, "a/b", type=tarfile.SYMTYPE, linkname="..")
        _add(tar, "a/b/escaped.txt", b"pwned")
    out = tmp_path / "box" / "out"
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(out))
    assert "chain.tar" in str(error.value) and "a/b" in str(error.value)
    assert not (tmp_path / "box" / "escaped.txt").exists()


def test_extract_refuses_escaping_zip_member(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("good.txt", "fine")
        bundle.writestr("../evil", "pwned")
    with pytest.raises(DatasetError) as error:
        extract(str(archive), str(tmp_path / "out"))
    assert "evil.zip" in str(error.value) and "../evil" in str(error.value)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "good.txt").exists()


def test_extract_corrupt_archive_names_it(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DatasetError, match="broken.tar.gz"):
        extract(str(archive), str(tmp_path / "out"))


def test_extract_unknown_type_names_it(tmp_path):
    archive = tmp_path / "data.rar"
    archive.write_bytes(b"x")
    with pytest.raises(DatasetError, match="data.rar"):
        extract(str(archive), str(tmp_path / "out"))


# ---------------------------------------------------------------------------------------------- fetch

def _cifar10_archive(path):
    """Builds a small cifar-10-python.tar.gz; returns the training rows."""
    rows = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072).astype(np.uint8)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]:
            batch = {b"batch_label": name.encode(), b"labels": [1, 8], b"data": rows,
                     b"filenames": [b"a.png", b"b.png"]}
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
        _add(tar, "cifar-10-batches-py/batches.meta",
             pickle.dumps({b"label_names": [name.encode() for name in Cifar10.classes]}, protocol=2))
    return rows


def test_fetch_cifar10_into_loader_layout(server, tmp_path):
    served, base_url = server
    rows = _cifar10_archive(served / "cifar-10-python.tar.gz")
    entry = dict(DATASET_SOURCES["cifar10"]["files"][0], urls=(base_url + "cifar-10-python.tar.gz",),
                 md5=_md5((served / "cifar-10-python.tar.gz").read_bytes()))
    sources = {"cifar10": {"extend_dir": "CIFAR_10", "files": (entry,)}}
    data_dir = tmp_path / "data"
    folder = fetch_dataset("cifar10", str(data_dir), sources=sources, progress=False)
    assert folder == str(data_dir / "CIFAR_10")
    assert os.listdir(folder) == ["cifar-10-batches-py"]
    dataset = Cifar10("train", data_dir=str(data_dir))
    assert len(dataset) == 10 and dataset.labels.tolist() == [1, 8] * 5
    assert dataset[1][0][0, 5, 1] == rows[1, 1024 + 5]
    (served / "cifar-10-python.tar.gz").unlink()  # already fetched: no download needed
    assert fetch_dataset("cifar10", str(data_dir), sources=sources, progress=False) == folder


def test_fetch_falls_back_to_mirror_and_reports_mismatch(server, tmp_path):
    served, base_url = server
    payload = struct.pack(">II", 0x00000801, 2) + b"\x03\x04"
    (served / "labels.gz").write_bytes(gzip.compress(payload))
    entry = {"urls": (base_url + "nowhere/labels.gz", base_url + "labels.gz"), "filename": "labels.gz",
             "md5": _md5((served / "labels.gz").read_bytes()), "extract": False}
    fetch_dataset("demo", str(tmp_path), sources={"demo": {"extend_dir": "DEMO", "files": (entry,)}},
                  progress=False)
    assert gzip.decompress((tmp_path / "DEMO" / "labels.gz").read_bytes()) == payload
    bad = dict(entry, filename="other.gz", md5="0" * 32)
    with pytest.raises(DatasetError) as error:
        fetch_dataset("demo", str(tmp_path), sources={"demo": {"extend_dir": "DEMO", "files": (bad,)}},
                      progress=False)
    assert "other.gz" in str(error.value) and "0" * 32 in str(error.value) and "404" in str(error.value)


def test_fetch_mnist_into_loader_layout(server, tmp_path):
    served, base_url = server
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    contents = {
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 0x803, 3, 28, 28) + images.tobytes(),
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 0x801, 3) + b"\x07\x08\x09",
        "t10k-images-idx3-ubyte.gz": struct.pack(">IIII", 0x803, 1, 28, 28) + bytes(784),
        "t10k-labels-idx1-ubyte.gz": struct.pack(">II", 0x801, 1) + b"\x00",
    }
    files = []
    for name, content in contents.items():
        (served / name).write_bytes(gzip.compress(content))
        files.append({"urls": (base_url + name,), "filename": name, "extract": False,
                      "sha256": _sha256((served / name).read_bytes())})
    fetch_dataset("mnist", str(tmp_path), sources={"mnist": {"extend_dir": "MNIST", "files": files}},
                  progress=False)
    train = Mnist("train", data_dir=str(tmp_path))
    assert train.labels.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(train[2][0][:, :, 2], images[2])


def test_fetch_unknown_dataset(tmp_path):
    with pytest.raises(DatasetError, match="imagenet.*cifar10"):
        fetch_dataset("imagenet", str(tmp_path))


def test_official_sources_have_checksums():
    assert set(DATASET_SOURCES) == {"cifar10", "cifar100", "mnist"}
    for source in DATASET_SOURCES.values():
        for entry in source["files"]:
            assert entry.get("md5") or entry.get("sha256")
            assert all(url.startswith(("http://", "https://")) for url in entry["urls"])
    assert DATASET_SOURCES["cifar10"]["extend_dir"] == Cifar10.extend_dir
    assert DATASET_SOURCES["mnist"]["extend_dir"] == Mnist.extend_dir
