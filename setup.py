"""What goes into the ``uniskel`` wheel, derived from the folders (pyproject.toml holds
the rest of the metadata).

The repository keeps one folder per layer (app/, commands/, engine/, training/) and the
shipped files in assets/; installed, they live under one ``uniskel`` namespace
(``uniskel.engine``, ``uniskel.assets``, ...), so they never collide with another
project's ``app`` or ``engine`` in site-packages. Every package below a layer folder (a
folder with an ``__init__.py``) is found here, never listed by hand.
"""
from setuptools import find_packages, setup

LAYERS = ("app", "commands", "engine", "training")

#: shipped files, found the same way from a wheel, an editable install and the frozen
#: bundle (engine/assets.py): ``<the uniskel package>/assets/...``.
ASSETS = ["models/*.onnx", "models/*.pt", "models/SHA256SUMS", "models/README.md",
          "media/*.mp4", "media/*.png", "media/README.md", "icons/*.png", "icons/*.ico"]

setup(
    packages=["uniskel", "uniskel.assets"] + [
        f"uniskel.{name}" for name in
        find_packages(include=[*LAYERS, *(f"{layer}.*" for layer in LAYERS)])],
    package_dir={"uniskel": "uniskel", "uniskel.assets": "assets",
                 **{f"uniskel.{layer}": layer for layer in LAYERS}},
    package_data={"uniskel.assets": ASSETS, "uniskel.training": ["configs/*.toml"]},
    exclude_package_data={"uniskel.assets": ["*.py"]},
)
