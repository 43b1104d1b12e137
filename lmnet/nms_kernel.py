"""Compiled greedy NMS (Numba), used by :class:`lmnet.nms.NMS` when Numba is installed.

The kernel makes the same selection as the NumPy path and as ``tf.image.non_max_suppression``:
per group (class), candidates are visited by score descending, ties by lower row index; a
candidate is kept unless its IoU with a box already kept in its group is strictly greater than
the threshold; at most ``max_output_size`` are kept per group. Each group's candidates sit in a
binary heap keyed by :func:`lmnet.nms._descending_keys`-style integers, so only the
candidates actually visited are ordered (as TensorFlow's priority queue does), and the IoU is
computed in float32 exactly as in the NumPy path:
``inter = max(min(x1, u1) − max(x0, u0), 0) · (min(y1, v1) − max(y0, v0))``,
``iou = inter / (area_kept + area_candidate − inter)``; ``0/0`` is NaN, which is never above the
threshold.

Numba is optional: without it (or with ``LMNET_NMS_BACKEND=numpy``) the NumPy path runs. Numba
is imported (about 100 MiB of memory) and the kernel compiled (1–2 s; cached on disk when the
package folder is writable) at the first NMS call that uses it, not when lmnet is imported.
"""
import functools
import importlib.util
import os

import numpy as np

BACKEND_VARIABLE = "LMNET_NMS_BACKEND"
BACKENDS = ("auto", "numba", "numpy")


def use_kernel():
    """Whether NMS should run this kernel: ``LMNET_NMS_BACKEND`` is ``auto`` (default) or ``numba``,
    and Numba is installed.

    Raises:
        ValueError: an unknown backend name, or ``numba`` requested without Numba installed.
    """
    backend = os.environ.get(BACKEND_VARIABLE, "auto")
    if backend not in BACKENDS:
        raise ValueError(f"{BACKEND_VARIABLE}={backend!r}: expected one of {', '.join(BACKENDS)}")
    installed = _numba_installed()
    if backend == "numba" and not installed:
        raise ValueError(f"{BACKEND_VARIABLE}=numba but Numba is not installed (pip install numba)")
    return backend != "numpy" and installed


@functools.lru_cache(maxsize=None)
def _numba_installed():
    return importlib.util.find_spec("numba") is not None


def _sift_down(heap, start, end):
    """Restores the min-heap property of ``heap[:end]`` below position ``start``."""
    position = start
    while True:
        child = 2 * position + 1
        if child >= end:
            return
        if child + 1 < end and heap[child + 1] < heap[child]:
            child += 1
        if heap[position] <= heap[child]:
            return
        heap[position], heap[child] = heap[child], heap[position]
        position = child


def _heapify(heap):
    for start in range(len(heap) // 2 - 1, -1, -1):
        _sift_down(heap, start, len(heap))


def _corners(boxes, row):
    """``(x_min, y_min, x_max, y_max)`` of ``(x, y, w, h)`` row ``row`` in float32, far corner ``x + w``."""
    x, y = boxes[row, 0], boxes[row, 1]
    far_x, far_y = x + boxes[row, 2], y + boxes[row, 3]
    return np.minimum(x, far_x), np.minimum(y, far_y), np.maximum(x, far_x), np.maximum(y, far_y)


def _suppressed(kept_corners, kept_areas, num_kept, corners, area, iou_threshold):
    """Whether one of the first ``num_kept`` kept boxes overlaps ``corners`` with IoU above the threshold.

    Branch-free over the kept boxes (so the loop vectorizes); same float32 operations, in the same
    order, as the NumPy path.
    """
    u0, v0, u1, v1 = corners
    hit = False
    for index in range(num_kept):
        inter = np.minimum(kept_corners[2, index], u1) - np.maximum(kept_corners[0, index], u0)
        inter = np.maximum(inter, np.float32(0))
        inter *= np.minimum(kept_corners[3, index], v1) - np.maximum(kept_corners[1, index], v0)
        union = kept_areas[index] + area
        union -= inter
        hit |= inter / union > iou_threshold
    return hit


def _next_key(keys, position, sorted_count, end):
    """Takes the next key in visiting order; returns ``(key, position, end)``.

    ``keys[:sorted_count]`` are the smallest keys, sorted: they are taken in turn. After them the
    rest is made a min-heap (once) and popped.
    """
    if position < sorted_count:
        return keys[position], position + 1, end
    heap = keys[sorted_count:]
    if position == sorted_count:
        _heapify(heap[:end])
        position += 1
    key = heap[0]
    end -= 1
    heap[0] = heap[end]
    _sift_down(heap, 0, end)
    return key, position, end


def _group_nms(boxes, keys, sorted_count, max_output_size, iou_threshold, kept_rows):
    """Greedy NMS of one group whose sort keys are ``keys`` (the first ``sorted_count`` already the
    smallest, sorted; reordered in place); fills ``kept_rows`` and returns how many were kept."""
    kept_corners = np.zeros((4, max_output_size), np.float32)
    kept_areas = np.zeros(max_output_size, np.float32)
    count, position, end = 0, 0, len(keys) - sorted_count
    while (position < sorted_count or end > 0) and count < max_output_size:
        key, position, end = _next_key(keys, position, sorted_count, end)
        row = key & 0xFFFFFFFF
        corners = _corners(boxes, row)
        x0, y0, x1, y1 = corners
        area = (y1 - y0) * (x1 - x0)
        if not _suppressed(kept_corners, kept_areas, count, corners, area, iou_threshold):
            kept_corners[0, count], kept_corners[1, count] = x0, y0
            kept_corners[2, count], kept_corners[3, count] = x1, y1
            kept_areas[count] = area
            kept_rows[count] = row
            count += 1
    return count


def _greedy(boxes, keys, starts, sorted_counts, max_output_size, iou_threshold):
    """Greedy NMS of every group; returns kept rows ``[G, max_output_size]`` (``-1`` padded).

    Args:
        boxes: float32 ``[N, ≥4]`` rows starting ``(x, y, w, h)``.
        keys: int64 ``[M]``: the valid rows' sort keys grouped by group (ascending key = visiting
            order; the low 32 bits are the row index); reordered in place.
        starts: int64 ``[G + 1]``: group ``g``'s keys are ``keys[starts[g]:starts[g + 1]]``.
        sorted_counts: int64 ``[G]``: how many leading keys of each group are its smallest, sorted.
    """
    num_groups = len(starts) - 1
    kept = np.full((num_groups, max_output_size), -1, np.int64)
    for group in range(num_groups):
        _group_nms(boxes, keys[starts[group]:starts[group + 1]], sorted_counts[group], max_output_size,
                   iou_threshold, kept[group])
    return kept


@functools.lru_cache(maxsize=None)
def _compiled_greedy():
    """Imports Numba and compiles the kernel (once per process)."""
    import numba

    def compile_all(cache):
        functions = (_sift_down, _heapify, _corners, _suppressed, _next_key, _group_nms, _greedy)
        return {f.__name__: numba.njit(cache=cache, nogil=True, error_model="numpy")(f) for f in functions}

    try:
        compiled = compile_all(cache=True)
    except RuntimeError:  # no writable cache folder anywhere: compile without caching
        compiled = compile_all(cache=False)
    _link(compiled)
    return compiled["_greedy"]


def _link(compiled):
    """Points the module's names at the compiled functions, so compiled callers call compiled callees."""
    globals().update(compiled)


def greedy_nms(boxes, keys, starts, sorted_counts, max_output_size, iou_threshold):
    """Runs the compiled kernel (see :func:`_greedy`; ``boxes`` may have more than 4 columns, and
    ``keys`` is reordered in place when it is already a C-contiguous int64 array)."""
    kernel = _compiled_greedy()
    return kernel(np.ascontiguousarray(boxes, np.float32), np.ascontiguousarray(keys, np.int64),
                  np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(sorted_counts, np.int64),
                  int(max_output_size), np.float32(iou_threshold))
