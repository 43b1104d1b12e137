"""Downloading and unpacking public datasets into the layout the loaders expect.

:func:`download` streams a URL to a temporary file next to the destination, verifies its checksum and
only then renames it into place, so an interrupted or tampered download never looks complete.
:func:`extract` unpacks ``.tar``/``.tar.gz``/``.tgz``/``.zip``/``.gz`` archives and refuses any member
that would land outside the target folder or unpack past a size or member-count limit.
:func:`fetch_dataset` combines both for the datasets in
:data:`DATASET_SOURCES`.
"""
import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

from tqdm import tqdm

from lmnet.errors import DatasetError

CHUNK_SIZE = 1 << 20
#: Default limit of :func:`extract` on the total uncompressed size of one archive's members (4 GiB).
MAX_EXTRACT_BYTES = 4 * 1024 ** 3
#: Default limit of :func:`extract` on the number of members of one archive.
MAX_EXTRACT_MEMBERS = 200_000
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
#: Raised by tarfile's extraction filters (Python >= 3.11.4); plain TarError before that.
_FILTER_ERROR = getattr(tarfile, "FilterError", tarfile.TarError)

_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")


def _mnist_file(name, md5):
    """Source entry of one MNIST file (kept gzipped: the loader reads ``.gz`` directly)."""
    return {"urls": tuple(mirror + name for mirror in _MNIST_MIRRORS), "filename": name, "md5": md5,
            "extract": False}


#: Where each dataset comes from. Per dataset: ``extend_dir`` (folder under DATA_DIR, as in the loader
#: class) and ``files``; per file: ``urls`` (tried in order), ``filename``, ``md5`` and/or ``sha256``,
#: ``extract`` (unpack into ``extend_dir``) and, for archives, ``creates`` (the folder it unpacks to).
DATASET_SOURCES = {
    "cifar10": {
        "extend_dir": "CIFAR_10",
        "files": ({"urls": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                   "filename": "cifar-10-python.tar.gz", "md5": "c58f30108f718f92721af3b95e74349a",
                   "extract": True, "creates": "cifar-10-batches-py"},),
    },
    "cifar100": {
        "extend_dir": "CIFAR_100",
        "files": ({"urls": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
                   "filename": "cifar-100-python.tar.gz", "md5": "eb9058c3a382ffc7106e4002c42a8d85",
                   "extract": True, "creates": "cifar-100-python"},),
    },
    "mnist": {
        "extend_dir": "MNIST",
        "files": (
            _mnist_file("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            _mnist_file("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            _mnist_file("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            _mnist_file("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    },
}


# --------------------------------------------------------------------------------------------- checksums

def _hashers(sha256, md5):
    """``{algorithm: (hasher, expected hex digest)}`` for the checksums that were given."""
    hashers = {}
    if sha256:
        hashers["sha256"] = (hashlib.sha256(), sha256.lower())
    if md5:
        hashers["md5"] = (hashlib.md5(usedforsecurity=False), md5.lower())
    return hashers


def _first_mismatch(hashers):
    """``(algorithm, expected, actual)`` of the first digest that differs, else ``None``."""
    for algorithm, (hasher, expected) in hashers.items():
        actual = hasher.hexdigest()
        if actual != expected:
            return algorithm, expected, actual
    return None


def file_matches(path, sha256=None, md5=None):
    """Tells whether ``path`` exists and has the given checksums (any file matches when none is given).

    Args:
        path: the file.
        sha256: expected SHA-256 hex digest, or ``None``.
        md5: expected MD5 hex digest, or ``None``.

    Returns:
        ``True`` when the file exists and every given digest matches.
    """
    if not os.path.isfile(path):
        return False
    hashers = _hashers(sha256, md5)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            for hasher, _ in hashers.values():
                hasher.update(chunk)
    return _first_mismatch(hashers) is None


# --------------------------------------------------------------------------------------------- download

def _destination_path(url, destination):
    """The file to write: ``destination`` itself, or the URL's file name inside it when it is a folder."""
    if os.path.isdir(destination):
        name = os.path.basename(urllib.parse.urlparse(url).path)
        if not name:
            raise DatasetError(f"{url}: cannot tell a file name from the URL; give a destination file path")
        return os.path.join(destination, name)
    return destination


def _stream(response, stream, hashers, url, progress):
    """Copies ``response`` to ``stream`` updating the hashers and a progress bar; checks the length."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
              desc=os.path.basename(urllib.parse.urlparse(url).path) or url) as bar:
        for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
            stream.write(chunk)
            for hasher, _ in hashers.values():
                hasher.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise DatasetError(f"{url}: download incomplete: received {received} of {total} bytes")


def download(url, destination, sha256=None, progress=True, md5=None, timeout=60):
    """Downloads ``url`` to ``destination``, verifying its checksum before it appears there.

    The data is streamed to a temporary file in the destination's folder and renamed into place
    atomically once the checksums match; on any failure the temporary file is removed.

    Args:
        url: ``http://`` or ``https://`` address.
        destination: file path to write, or an existing folder (the URL's file name is used).
        sha256: expected SHA-256 hex digest, or ``None``.
        progress: show a progress bar on stderr.
        md5: expected MD5 hex digest, or ``None`` (for sources that publish only MD5).
        timeout: seconds to wait for the server on connect and on each read.

    Returns:
        Path of the downloaded file.

    Raises:
        DatasetError: the URL is not http(s), the download fails, or a checksum differs; the message
            names the URL (and for a mismatch the expected and actual digests).
    """
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise DatasetError(f"{url}: only http:// and https:// URLs can be downloaded")
    path = _destination_path(url, destination)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    hashers = _hashers(sha256, md5)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            request = urllib.request.Request(url, headers={"User-Agent": "lmnet-dataset-download"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                _stream(response, stream, hashers, url, progress)
        mismatch = _first_mismatch(hashers)
        if mismatch:
            algorithm, expected, actual = mismatch
            raise DatasetError(f"{url}: {algorithm} checksum mismatch: expected {expected}, got {actual}")
        os.replace(temporary, path)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        _remove_quietly(temporary)
        raise DatasetError(f"{url}: download failed ({error})") from None
    except BaseException:
        _remove_quietly(temporary)
        raise
    return path


def _remove_quietly(path):
    """Removes a file if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------------------------- extract

def _is_within(folder, path):
    """Tells whether ``path`` is ``folder`` or inside it (both absolute and normalised)."""
    return os.path.commonpath([folder, path]) == folder


def _check_member_path(archive, target, name):
    """Refuses a member name that is absolute or resolves outside ``target``; returns its path."""
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")) or os.path.splitdrive(name)[0]:
        raise DatasetError(f"{archive}: refusing member '{name}': absolute path")
    path = os.path.normpath(os.path.join(target, name))
    if not _is_within(target, path):
        raise DatasetError(f"{archive}: refusing member '{name}': its path escapes {target}")
    return path


def _check_tar_member(archive, target, member):
    """Refuses a tar member that escapes ``target`` by its name or its link, or is a device/FIFO."""
    path = _check_member_path(archive, target, member.name)
    if member.issym() or member.islnk():
        if os.path.isabs(member.linkname) or not member.linkname:
            raise DatasetError(f"{archive}: refusing member '{member.name}': link to absolute path "
                               f"'{member.linkname}'")
        base = os.path.dirname(path) if member.issym() else target
        if not _is_within(target, os.path.normpath(os.path.join(base, member.linkname))):
            raise DatasetError(f"{archive}: refusing member '{member.name}': link to '{member.linkname}' "
                               f"points outside {target}")
    elif not (member.isfile() or member.isdir()):
        raise DatasetError(f"{archive}: refusing member '{member.name}': special file (device or FIFO)")


def _check_on_disk(archive, target, member):
    """Re-checks a member against links already extracted (a symlink chain can escape lexical checks)."""
    parent = os.path.realpath(os.path.join(target, os.path.dirname(member.name)))
    path = os.path.join(parent, os.path.basename(member.name))
    if not _is_within(target, path):
        raise DatasetError(f"{archive}: refusing member '{member.name}': extracted links lead outside {target}")
    if member.issym() or member.islnk():
        base = parent if member.issym() else target
        if not _is_within(target, os.path.realpath(os.path.join(base, member.linkname))):
            raise DatasetError(f"{archive}: refusing member '{member.name}': link to '{member.linkname}' "
                               f"leads outside {target}")


class _Budget:
    """Counts one archive's members and uncompressed bytes against the limits of :func:`extract`.

    Args:
        archive: the archive, named in messages.
        max_bytes: most uncompressed bytes allowed over all members.
        max_members: most members allowed.
        stage: ``"declared"`` for sizes read from the headers (before writing), ``"written"`` for bytes
            actually written.
    """

    def __init__(self, archive, max_bytes, max_members, stage):
        self.archive, self.max_bytes, self.max_members, self.stage = archive, max_bytes, max_members, stage
        self.members = 0
        self.bytes = 0

    def add_member(self, name, size=0):
        """Counts one member (and its ``size``); raises :class:`DatasetError` past a limit."""
        self.members += 1
        if self.members > self.max_members:
            raise DatasetError(f"{self.archive}: refusing archive: more than {self.max_members} members (limit "
                               f"max_members={self.max_members}); pass a larger max_members to extract() if you "
                               "trust it")
        self.add_bytes(name, size)

    def add_bytes(self, name, size):
        """Counts ``size`` more bytes of member ``name``; raises :class:`DatasetError` past ``max_bytes``."""
        self.bytes += size
        if self.bytes > self.max_bytes:
            what = "its headers declare" if self.stage == "declared" else "its members unpack to"
            raise DatasetError(f"{self.archive}: refusing archive: {what} more than {_format_size(self.max_bytes)} "
                               f"(limit max_bytes={self.max_bytes}, passed at member '{name}'); pass a larger "
                               "max_bytes to extract() if you trust it")


def _format_size(size):
    """``size`` bytes in a readable unit (``"4.0 GiB"``)."""
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"


def _tar_headers(tar, archive, target, declared):
    """Reads and checks every tar header (paths, links, limits) before anything is written."""
    members = []
    for member in iter(tar.next, None):
        declared.add_member(member.name, member.size if member.isfile() else 0)
        _check_tar_member(archive, target, member)
        members.append(member)
    return members


def _extract_tar(archive, target, limits):
    """Checks every member of a tar archive, then extracts them one by one with the ``data`` filter."""
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    written = _Budget(archive, *limits, "written")
    with tarfile.open(archive, "r:*") as tar:
        members = _tar_headers(tar, archive, target, _Budget(archive, *limits, "declared"))
        for member in members:
            _check_on_disk(archive, target, member)
            try:
                tar.extract(member, target, **extra)
            except _FILTER_ERROR as error:
                raise DatasetError(f"{archive}: refusing member '{member.name}': {error}") from None
            if member.isfile():
                _count_written_file(os.path.join(target, member.name), member.name, written)


def _count_written_file(path, name, written):
    """Adds the size of a file just extracted to ``written``; removes the file when it breaks the limit."""
    try:
        written.add_member(name, os.lstat(path).st_size)
    except DatasetError:
        _remove_quietly(path)
        raise


def _extract_zip(archive, target, limits):
    """Checks every member of a zip archive (names, declared sizes, count), then writes them one by one."""
    written = _Budget(archive, *limits, "written")
    with zipfile.ZipFile(archive) as bundle:
        declared = _Budget(archive, *limits, "declared")
        infos = bundle.infolist()
        for info in infos:
            declared.add_member(info.filename, info.file_size)
            _check_member_path(archive, target, info.filename)
        for info in infos:
            _write_zip_member(bundle, info, archive, target, written)


def _write_zip_member(bundle, info, archive, target, written):
    """Writes one zip member, counting the bytes actually written; a partial file is removed on refusal."""
    path = _check_member_path(archive, target, info.filename)
    if not _is_within(target, os.path.realpath(path)):
        raise DatasetError(f"{archive}: refusing member '{info.filename}': links on disk lead outside {target}")
    if info.is_dir():
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    written.add_member(info.filename)
    try:
        with bundle.open(info) as source, open(path, "wb") as stream:
            _copy_counted(source, stream, info.filename, written, declared_size=info.file_size)
    except BaseException:
        _remove_quietly(path)
        raise


def _copy_counted(source, stream, name, written, declared_size=None):
    """Copies ``source`` to ``stream`` in chunks, counting each into ``written`` before it is written.

    With ``declared_size``, a member that unpacks to more bytes than its header declares is refused.
    """
    count = 0
    for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
        count += len(chunk)
        if declared_size is not None and count > declared_size:
            raise DatasetError(f"{written.archive}: refusing member '{name}': it unpacks to more than the "
                               f"{declared_size} bytes its header declares")
        written.add_bytes(name, len(chunk))
        stream.write(chunk)


def _extract_gzip(archive, target, limits):
    """Decompresses a single ``.gz`` file into ``target`` (the name without ``.gz``), within ``max_bytes``."""
    name = os.path.basename(archive)[:-3]
    path = os.path.join(target, name)
    written = _Budget(archive, *limits, "written")
    written.add_member(name)
    handle, temporary = tempfile.mkstemp(dir=target, suffix=".part")
    try:
        with gzip.open(archive, "rb") as source, os.fdopen(handle, "wb") as stream:
            _copy_counted(source, stream, name, written)
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise


def extract(archive, target_dir, max_bytes=MAX_EXTRACT_BYTES, max_members=MAX_EXTRACT_MEMBERS):
    """Unpacks an archive into ``target_dir``, refusing members that would land outside it and archives
    that unpack past a size or member-count limit.

    ``.tar``, ``.tar.gz``, ``.tgz`` (also ``.tar.bz2``/``.tar.xz``) and ``.zip`` archives are checked
    member by member before anything is written: absolute names, ``..`` components and symbolic or hard
    links pointing outside are refused, as are device files, more than ``max_members`` members and
    member sizes (tar headers, zip ``file_size``) adding up to more than ``max_bytes``. While writing,
    the bytes actually written are counted too (a header may lie; a ``.gz`` file has no reliable size),
    and a zip member that unpacks to more than its header declares is refused; the member being written
    is then removed. Tar archives are additionally extracted with Python's ``data`` filter. A plain
    ``.gz`` file is decompressed next to its base name.

    Args:
        archive: the archive file.
        target_dir: folder to unpack into (created if missing).
        max_bytes: most uncompressed bytes of all members together (default 4 GiB).
        max_members: most members (default 200,000).

    Returns:
        ``target_dir``.

    Raises:
        DatasetError: unknown format, corrupt archive, an unsafe member or a limit passed; the message
            names the archive and the member or the limit.
    """
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.realpath(target_dir)
    lower = archive.lower()
    limits = (max_bytes, max_members)
    try:
        if lower.endswith(TAR_SUFFIXES):
            _extract_tar(archive, target, limits)
        elif lower.endswith(".zip"):
            _extract_zip(archive, target, limits)
        elif lower.endswith(".gz"):
            _extract_gzip(archive, target, limits)
        else:
            raise DatasetError(f"{archive}: unknown archive type; expected .tar, .tar.gz, .tgz, .zip or .gz")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        raise DatasetError(f"{archive}: cannot extract archive ({error})") from None
    return target_dir


# --------------------------------------------------------------------------------------------- fetch

def _download_any(entry, path, progress):
    """Downloads one source file from the first of its URLs that works."""
    failures = []
    for url in entry["urls"]:
        try:
            return download(url, path, sha256=entry.get("sha256"), md5=entry.get("md5"), progress=progress)
        except DatasetError as error:
            failures.append(str(error))
    raise DatasetError(f"{entry['filename']}: every source failed: " + "; ".join(failures))


def _extract_into(archive, folder, creates):
    """Extracts into a temporary folder inside ``folder``, then moves the top-level entries into place."""
    staging = tempfile.mkdtemp(dir=folder, prefix=".extract-")
    try:
        extract(archive, staging)
        for name in os.listdir(staging):
            destination = os.path.join(folder, name)
            if os.path.lexists(destination):
                raise DatasetError(f"{destination} already exists; remove it to unpack {archive} again")
            os.replace(os.path.join(staging, name), destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if creates and not os.path.isdir(os.path.join(folder, creates)):
        raise DatasetError(f"{archive}: archive did not contain the expected folder {creates}")


def _fetch_file(entry, folder, progress, keep_archives):
    """Downloads (and unpacks) one source file unless its result is already there."""
    path = os.path.join(folder, entry["filename"])
    checksums = {"sha256": entry.get("sha256"), "md5": entry.get("md5")}
    if entry.get("extract") and os.path.isdir(os.path.join(folder, entry["creates"])):
        return
    if not (any(checksums.values()) and file_matches(path, **checksums)):
        _download_any(entry, path, progress)
    if entry.get("extract"):
        _extract_into(path, folder, entry.get("creates"))
        if not keep_archives:
            os.remove(path)


def fetch_dataset(name, data_dir, sources=None, progress=True, keep_archives=False):
    """Downloads a public dataset into ``data_dir`` in the layout its loader reads.

    ``cifar10`` → ``data_dir/CIFAR_10/cifar-10-batches-py/``, ``cifar100`` →
    ``data_dir/CIFAR_100/cifar-100-python/``, ``mnist`` → ``data_dir/MNIST/*.gz``. Files already in place
    (and matching their checksum) are not downloaded again.

    Args:
        name: key of ``sources`` (``"cifar10"``, ``"cifar100"`` or ``"mnist"``).
        data_dir: root of the datasets (``DATA_DIR``).
        sources: table in the form of :data:`DATASET_SOURCES` (the default), e.g. to use a local mirror.
        progress: show progress bars.
        keep_archives: keep downloaded archives after unpacking them.

    Returns:
        The dataset's folder, ``data_dir/<extend_dir>``.

    Raises:
        DatasetError: unknown name, failed download, checksum mismatch or unsafe archive.
    """
    sources = DATASET_SOURCES if sources is None else sources
    if name not in sources:
        raise DatasetError(f"unknown dataset '{name}'; can fetch {', '.join(sorted(sources))}")
    source = sources[name]
    folder = os.path.join(data_dir, source["extend_dir"])
    os.makedirs(folder, exist_ok=True)
    for entry in source["files"]:
        _fetch_file(entry, folder, progress, keep_archives)
    return folder
