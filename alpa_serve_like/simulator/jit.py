"""numba for the simulator's loops: compiled on first use, cached on disk, started lean.

Every loop is compiled with ``cache=True`` (a warm cache loads machine code instead of compiling;
``NUMBA_CACHE_DIR`` is honoured) and ``nogil=True`` (``PlacementScorer`` runs two at once).

numba refreshes its whole typing and lowering registries before it even looks in the cache
(``Cache.load_overload``), though machine code loaded from the cache needs only numba's runtime
(NRT, which the registries' refresh would start). That refresh imports and installs some 250
registries: about 0.19 s of CPU on this machine, most of a first call with a warm cache. Our
loops' caches therefore start the runtime and look in the cache first, and refresh only on a miss,
before compiling (a first call of issue 12's 1M-request case went from 0.35-0.60 s to 0.20-0.22 s
wall in three interleaved pairs of fresh processes, measured). Other numba functions in the
process are untouched: theirs still refresh first.

numba's first compile or cache load in a process installs its typing and lowering registries, and
one of those modules (``numba.np.arraymath``) imports all of ``scipy.linalg`` only to decide at
import whether BLAS is available for ``np.convolve``/``np.correlate`` (about 0.27 s of a 0.6 s first
call, measured here; the simulator's loops use no linear algebra). While the registries load, that
check is answered by whether scipy is installed at all (it is a dependency, and then numba's own
check says the same); numba's real check is put back right after, so code that does use linear
algebra still imports and validates scipy's BLAS when it compiles. If a numba release moves these
names, or env ``ALPA_SERVE_LIKE_NUMBA_LEAN_START=0``, caches and registries load the usual way.
"""
from __future__ import annotations

import importlib.util
import os
import sys

_started = False


def njit_cached(fn):
    """``fn`` compiled lazily by numba (``cache=True, nogil=True``)."""
    import numba

    dispatcher = numba.njit(cache=True, nogil=True)(fn)
    if not _lean():
        _start_numba()
        return dispatcher
    cache = getattr(dispatcher, "_cache", None)
    usual = getattr(cache, "load_overload", None)
    load = getattr(cache, "_load_overload", None)
    guard = getattr(cache, "_guard_against_spurious_io_errors", None)
    try:
        from numba.core.runtime import rtsys
    except ImportError:
        rtsys = None
    if usual is None or load is None or guard is None or rtsys is None:
        _start_numba()
        return dispatcher

    def load_overload(sig, target_context):
        # The runtime only, then the cache; numba's usual path (registries refreshed) on a miss.
        rtsys.initialize(target_context)
        with guard():
            found = load(sig, target_context)
        if found is not None:
            return found
        _start_numba()
        return usual(sig, target_context)

    cache.load_overload = load_overload
    return dispatcher


def _lean() -> bool:
    return os.environ.get("ALPA_SERVE_LIKE_NUMBA_LEAN_START", "1").strip() != "0"


def _start_numba() -> None:
    global _started
    if _started:
        return
    _started = True
    if not _lean():
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
