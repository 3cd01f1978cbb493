"""Local Hugging Face model folders, as the encoders that wrap one use them: checking a folder,
hashing its files (so a run can tell the model changed) and copying it into a run.
Nothing here downloads or imports transformers."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError

_sha_cache: dict[tuple[Any, ...], str] = {}


def check_model_folder(path: Path, option: str = "model") -> Path:
    """`path` resolved, or InputError when it is not a folder holding a transformers `config.json`.
    `option` names the option that gave the path (e.g. `audio.model`) in the message."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(path, f"model folder not found ({option} must be a local Hugging Face model folder)")
    if not path.is_dir():
        raise InputError(path, f"not a folder; {option} must be a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise InputError(path, "no config.json here: not a transformers model folder")
    return path.resolve()


def model_files(folder: Path) -> list[Path]:
    """The folder's files (recursively, sorted), skipping hidden ones such as `.gitattributes`."""
    return sorted(
        f for f in folder.rglob("*") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(folder).parts)
    )


def folder_sha256(folder: Path) -> str:
    """A sha256 over the relative names and contents of `model_files(folder)`; cached by size and mtime."""
    files = model_files(folder)
    key = (str(folder), tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key in _sha_cache:
        return _sha_cache[key]
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        part = hashlib.sha256()
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                part.update(chunk)
        h.update(part.digest())
    _sha_cache[key] = digest = h.hexdigest()
    return digest


def copy_folder(src: Path, dest: Path) -> None:
    """Copy `model_files(src)` to `dest` (replacing it) through a temporary sibling, then check
    the copy's sha256 against the source's."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for f in model_files(src):
            target = tmp / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        if folder_sha256(tmp) != folder_sha256(src):
            raise InputError(dest, "the copied model files differ from the source (disk full or files changing?)")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
