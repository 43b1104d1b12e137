"""Writing results safely: whole files or nothing, and output folders that never mix two runs.

Two rules, shared by every executor that writes results:

* **A result file is complete or absent.** :func:`write_atomically` writes into a temporary file beside the
  target and renames it over the target only when the write succeeded, so a full disk or a kill leaves the
  previous file (or none), never half of a new one.
* **An output folder holds one run's results.** :func:`claim_output_folder` records in the folder which
  entries a tool writes there (``.lmnet-outputs.json``). A later run refuses to write into a folder that
  already holds results unless told to ``overwrite``; then it removes exactly the entries the earlier run
  recorded, names them, and leaves everything else alone.
"""
import json
import os
import shutil

from lmnet.errors import OutputError

#: The record of what a tool wrote into an output folder.
MANIFEST = ".lmnet-outputs.json"


def write_atomically(path, write, mode="w"):
    """Writes ``path`` through a temporary file in the same folder, renamed over ``path`` at the end.

    Args:
        path: the file to write.
        write: called with the open stream; writes the content.
        mode: ``"w"`` for text, ``"wb"`` for bytes.

    Raises:
        OutputError: the folder or the file cannot be written (naming ``path`` and the reason); the
            temporary file is removed and an earlier ``path`` is left as it was.
    """
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, mode) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove_quietly(temporary)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from error
    except BaseException:
        _remove_quietly(temporary)
        raise


def write_json(path, data):
    """Writes ``data`` as indented JSON to ``path`` with :func:`write_atomically`."""
    write_atomically(path, lambda stream: json.dump(data, stream, indent=2))


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def claim_output_folder(folder, tool, entries, overwrite=False, owned=False, log=print):
    """Makes ``folder`` ready to receive ``tool``'s ``entries``, never mixing them with an earlier run's.

    The folder is created when missing. When it already holds any of ``entries`` or an earlier run's
    record, the call refuses unless ``overwrite``; with ``overwrite`` it removes the entries that the
    earlier run recorded (and only those), naming them. Other files in the folder are never touched.

    Args:
        folder: the output folder.
        tool: the writer's name (``"evaluate"``, ``"predict"``, ``"runtime"``), for the messages.
        entries: the names of the files and folders ``tool`` writes directly in ``folder``.
        overwrite: replace an earlier run's results.
        owned: the folder is lmnet's own (inside an experiment, like ``<experiment>/evaluate``): entries of
            these names are lmnet's even when no record says so (folders written before records existed).
        log: receives the line naming what was removed.

    Raises:
        OutputError: the folder holds an earlier run's results and ``overwrite`` is false, or it holds
            entries of those names that no lmnet run recorded (they are not lmnet's to delete), or the
            folder cannot be created.
    """
    _make_folder(folder)
    recorded = _read_manifest(folder) + (list(entries) if owned else [])
    present = sorted(name for name in set(entries) | set(recorded) if os.path.lexists(os.path.join(folder, name)))
    if present and not overwrite:
        raise OutputError(f"{folder} already holds results ({', '.join(present)}); pass --overwrite to replace "
                          f"them or choose another output folder")
    foreign = sorted(name for name in present if name not in recorded)
    if foreign:
        raise OutputError(f"{folder} holds {', '.join(foreign)}, which no lmnet run recorded writing there; "
                          f"move them away or choose another output folder (--overwrite only removes what "
                          f"lmnet wrote)")
    if present:
        _remove_entries(folder, present)
        log(f"removed earlier results from {folder}: {', '.join(present)}")
    write_json(os.path.join(folder, MANIFEST), {"tool": tool, "entries": sorted(entries)})


def _make_folder(folder):
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} is a file, expected a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output folder {error.filename or folder}: {error.strerror}") from error


def _read_manifest(folder):
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return []
    try:
        with open(path) as stream:
            entries = json.load(stream).get("entries", [])
    except (OSError, ValueError, AttributeError) as error:
        raise OutputError(f"{path} is not lmnet's record of earlier results ({error}); remove it or choose "
                          f"another output folder") from error
    if not all(isinstance(name, str) and name and os.path.basename(name) == name and name not in (".", "..")
               for name in entries):
        raise OutputError(f"{path} names entries outside its folder; remove it or choose another output folder")
    return list(entries)


def _remove_entries(folder, names):
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
