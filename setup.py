"""Install alpa_serve_like.

The root folders ``placement/``, ``controllers/``, ``trace/`` and ``osdi_artifact/`` are installed as
sub-packages of ``alpa_serve_like`` (``alpa_serve_like.trace`` ...) so nothing shadows the standard
library's ``trace`` module or claims a generic top-level name.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_DATABASE = "profiling_result.pkl"

ROOT_SUBPACKAGES = ("placement", "controllers", "trace", "osdi_artifact")


def _packages():
    import os

    found = {}
    for top, dotted in [("alpa_serve_like", "alpa_serve_like")] + [
        (name, f"alpa_serve_like.{name}") for name in ROOT_SUBPACKAGES
    ]:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, top)
                name = dotted if rel == "." else dotted + "." + rel.replace(os.sep, ".")
                found[name] = dirpath
    return found


PACKAGES = _packages()


class BuildWithDatabase(build_py):
    """Copies the root ``profiling_result.pkl`` (the tree's one copy) into the built package's data/.

    An editable install or a source checkout reads the root file directly
    (``profiling.database.default_database_path``).
    """

    def run(self):
        super().run()
        if not os.path.exists(SHIPPED_DATABASE):
            raise FileNotFoundError(f"{SHIPPED_DATABASE} is missing at the repository root; regenerate it "
                                    f"with 'alpa-serve-like profile --zoo --out {SHIPPED_DATABASE}'")
        target = os.path.join(self.build_lib, "alpa_serve_like", "data")
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(SHIPPED_DATABASE, os.path.join(target, SHIPPED_DATABASE))

CORE = [
    "numpy>=1.24",
    "scipy>=1.11",
    "pandas>=2.0",
    "numba>=0.59",
    "tqdm>=4.60",
]
RUNTIME = [
    "torch==2.13.0",
    "torchvision==0.28.0",  # the CNN architectures of the Paella experiments (models/cnn_layers.py)
    "ray[serve]==2.60.0",
    "aiohttp>=3.9",
]
PLOT = ["matplotlib>=3.7"]
DEV = RUNTIME + PLOT + [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "pytest-benchmark>=4",
]

setup(
    name="alpa_serve_like",
    version="0.1.0",
    description="AlpaServe-style serving of many models under latency SLOs on Ray Serve",
    python_requires=">=3.10",
    packages=sorted(PACKAGES),
    package_dir=PACKAGES,
    package_data={"alpa_serve_like": ["data/*"]},
    include_package_data=True,
    install_requires=CORE,
    extras_require={"runtime": RUNTIME, "plot": PLOT, "dev": DEV, "all": DEV},
    cmdclass={"build_py": BuildWithDatabase},
    entry_points={"console_scripts": ["alpa-serve-like=alpa_serve_like.cli.main:main"]},
)
