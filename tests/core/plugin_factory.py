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
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.options import option

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
from ugaar_kit.interfaces.encoder import Encoder

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

NOTES_PLUGIN = """
# a fourth modality, `notes`: a melody as its MIDI pitches, one a line, in a .notes file
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ugaar_kit import hookimpl
from ugaar_kit.interfaces.encoder import Batch, Encoder
from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.options import option


@dataclass(frozen=True)
class PitchOptions:
    dim: int = option(16, "Output width.", min=1)


class Pitches(Encoder):
    name = "pitches"
    modality = "notes"
    description = "A melody's pitch-class and interval histogram, then a linear layer."
    Options = PitchOptions
    extensions = (".notes",)
    default = True

    def __init__(self, options=None):
        super().__init__(options)
        self.proj = nn.Linear(24, self.options.dim)

    @property
    def output_dim(self):
        return self.options.dim

    def load_item(self, path):
        try:
            pitches = [int(x) for x in Path(path).read_text(encoding="utf-8").split()]
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(path, f"not a notes file ({exc})") from None
        if not pitches:
            raise InputError(path, "no notes")
        return pitches

    def featurize(self, raw):
        h = torch.zeros(24)
        for p in raw:
            h[p % 12] += 1
        for a, b in zip(raw, raw[1:]):
            h[12 + (b - a) % 12] += 1
        return h / len(raw)

    def collate(self, features):
        return Batch(torch.stack(list(features)))

    def forward(self, batch):
        return self.proj(batch.data)


@hookimpl
def register_encoders(register):
    register(Pitches)
"""
