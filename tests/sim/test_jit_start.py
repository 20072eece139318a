"""The lean numba start (simulator/jit.py) skips scipy.linalg while numba's registries load and
leaves numba's linear algebra working afterwards. Runs in a fresh interpreter: numba's start-up
happens once per process."""
import subprocess
import sys
import textwrap


def test_lean_start_skips_scipy_linalg_and_keeps_linear_algebra():
    child = textwrap.dedent("""
        import sys
        import numba, numpy as np
        from alpa_serve_like.simulator import jit
        if "numba.np.arraymath" in sys.modules:
            print("SKIP numba registries already loaded")
            raise SystemExit(0)
        jit._start_numba()
        import numba.np.arraymath as arraymath, numba.np.linalg as linalg
        assert "scipy.linalg" not in sys.modules, "scipy.linalg was imported by the start"
        assert arraymath.ensure_blas is linalg.ensure_blas, "numba's BLAS check was not put back"
        assert arraymath._HAVE_BLAS
        dot = numba.njit(lambda a, b: np.dot(a, b))
        assert dot(np.arange(3.0), np.arange(3.0)) == 5.0
        assert "scipy.linalg" in sys.modules  # numba's real check ran when dot compiled
        print("OK")
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK", out.stdout
