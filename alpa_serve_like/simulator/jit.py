"""numba for the simulator's loops: compiled on first use, cached on disk, started lean.

Every loop is compiled with ``cache=True`` (a warm cache loads machine code instead of compiling;
``NUMBA_CACHE_DIR`` is honoured) and ``nogil=True`` (``PlacementScorer`` runs two at once).

numba's first compile or cache load in a process installs its typing and lowering registries, and
one of those modules (``numba.np.arraymath``) imports all of ``scipy.linalg`` only to decide at
import whether BLAS is available for ``np.convolve``/``np.correlate`` (about 0.27 s of a 0.6 s first
call, measured here; the simulator's loops use no linear algebra). While the registries load, that
check is answered by whether scipy is installed at all (it is a dependency, and then numba's own
check says the same); numba's real check is put back right after, so code that does use linear
algebra still imports and validates scipy's BLAS when it compiles. If a numba release moves these
names, or env ``ALPA_SERVE_LIKE_NUMBA_LEAN_START=0``, the registries load the usual way.
"""
from __future__ import annotations

import importlib.util
import os
import sys

_started = False


def njit_cached(fn):
    """``fn`` compiled lazily by numba (``cache=True, nogil=True``)."""
    import numba

    _start_numba()
    return numba.njit(cache=True, nogil=True)(fn)


def _start_numba() -> None:
    global _started
    if _started:
        return
    _started = True
    if os.environ.get("ALPA_SERVE_LIKE_NUMBA_LEAN_START", "1").strip() == "0":
        return
    if "numba.np.arraymath" in sys.modules:
        return  # someone compiled numba code already: the registries are loaded
    try:
        import numba.np.linalg as linalg
        from numba.core.registry import cpu_target
        real = linalg.ensure_blas
    except (ImportError, AttributeError):
        return

    def scipy_installed():
        if importlib.util.find_spec("scipy") is None:
            raise ImportError("scipy 0.16+ is required for linear algebra")

    linalg.ensure_blas = scipy_installed
    try:
        cpu_target.target_context.refresh()
    finally:
        linalg.ensure_blas = real
        arraymath = sys.modules.get("numba.np.arraymath")
        if arraymath is not None and getattr(arraymath, "ensure_blas", None) is scipy_installed:
            arraymath.ensure_blas = real
