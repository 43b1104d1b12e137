"""Reading pickled dataset files without letting them run code.

A pickle can name any importable callable and have the loader call it; a downloaded or shared
dataset file must not be able to do that. :class:`RestrictedUnpickler` admits only the globals that
the CIFAR "python version" batches need: built-in containers and numbers come from opcodes (no
global), and ndarrays are rebuilt with a handful of numpy functions listed in
:data:`ALLOWED_GLOBALS`. Anything else is refused before it is imported.
"""
import pickle

from lmnet.errors import DatasetError

#: ``(module, name)`` pairs a dataset pickle may reference. Both the numpy 1 (``numpy.core``) and
#: numpy 2 (``numpy._core``) spellings are accepted so files written by either version load.
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
})


def _resolve_allowed(module, name):
    """Returns the object of one allowed global, imported from its current numpy location."""
    if module == "_codecs":
        import _codecs
        return _codecs.encode
    import numpy
    if module == "numpy":
        return getattr(numpy, name)
    if module.endswith("multiarray"):
        from numpy._core import multiarray
        return getattr(multiarray, name)
    from numpy._core import numeric
    return getattr(numeric, name)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object to read from.
        path: name of the file, used in error messages.
        **kwargs: passed to :class:`pickle.Unpickler` (e.g. ``encoding``).
    """

    def __init__(self, file, path="<pickle>", **kwargs):
        super().__init__(file, **kwargs)
        self.path = path

    def find_class(self, module, name):
        """Returns an allowed global; refuses every other one.

        Raises:
            DatasetError: the pickle references a global outside the allow list; the message names the
                file and the global.
        """
        if (module, name) not in ALLOWED_GLOBALS:
            raise DatasetError(f"{self.path}: refusing to load pickle: it references the forbidden global "
                               f"'{module}.{name}' (only numpy arrays and built-in containers are allowed)")
        return _resolve_allowed(module, name)


def load_pickle(path):
    """Loads a dataset pickle (CIFAR python format) safely.

    Strings written by Python 2 are returned as ``bytes`` (``encoding="bytes"``), so dictionary keys of
    the official CIFAR files are ``b"data"``, ``b"labels"`` and so on.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object.

    Raises:
        DatasetError: the file is missing, unreadable, truncated, corrupt or references a forbidden
            global; the message names the file.
    """
    try:
        with open(path, "rb") as stream:
            return RestrictedUnpickler(stream, path=path, encoding="bytes").load()
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except EOFError:
        raise DatasetError(f"{path}: pickle is truncated (unexpected end of file)") from None
    except (pickle.UnpicklingError, OSError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, MemoryError, OverflowError) as error:
        raise DatasetError(f"{path}: corrupt pickle ({type(error).__name__}: {error})") from None
