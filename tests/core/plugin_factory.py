"""Makes installed-looking distributions in a temp folder: a package plus a `.dist-info` with an
entry point in the `ugaar_kit` group, found by importlib.metadata through sys.path exactly as a
pip-installed plugin is (no pip install into the shared environment)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_distribution(root: Path, dist: str, module: str, source: str, version: str = "0.1.0") -> Path:
    """Write `module/__init__.py` with `source` and `dist-version.dist-info` under `root`."""
    pkg = root / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ugaar_kit]\n{module} = {module}\n")
    return root


GOOD_PLUGIN = """
from dataclasses import dataclass
import torch
from ugaar_kit import hookimpl
from ugaar_kit.encoder import Encoder
from ugaar_kit.options import option

@dataclass(frozen=True)
class Opts:
    dim: int = option(4, "Output size.", min=1)

class Chroma(Encoder):
    name = "chroma"
    modality = "audio"
    description = "A test encoder from a third-party distribution."
    Options = Opts

@hookimpl
def register_encoders(register):
    register(Chroma)
"""

BROKEN_IMPORT = """
import a_module_that_does_not_exist  # noqa: F401
"""

DUPLICATE = """
from ugaar_kit import hookimpl
from ugaar_kit.encoder import Encoder

class AlsoChroma(Encoder):
    name = "chroma"
    modality = "audio"
    description = "Clashes with the good plugin's encoder."

@hookimpl
def register_encoders(register):
    register(AlsoChroma)
"""

MISSPELT_HOOK = """
from ugaar_kit import hookimpl

@hookimpl
def register_encoder(register):  # singular: no such hook
    pass
"""
