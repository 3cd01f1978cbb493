"""The local Hugging Face folder an `hf` audio encoder runs: checking, hashing and loading it.
Nothing here downloads: every load passes `local_files_only=True`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError

_sha_cache: dict[tuple[Any, ...], str] = {}


def check_model_folder(path: Path) -> Path:
    """`path` resolved, or InputError when it is not a folder with a transformers `config.json`."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(path, "model folder not found (audio.model must be a local Hugging Face model folder)")
    if not path.is_dir():
        raise InputError(path, "not a folder; audio.model must be a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise InputError(path, "no config.json here: not a transformers model folder")
    return path.resolve()


def folder_sha256(folder: Path) -> str:
    """sha256 over the relative names and contents of the folder's non-hidden files (cached by
    size and mtime)."""
    files = sorted(
        f for f in folder.rglob("*") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(folder).parts)
    )
    key = (str(folder), tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _sha_cache:
        h = hashlib.sha256()
        for f in files:
            h.update(f.relative_to(folder).as_posix().encode() + b"\0")
            part = hashlib.sha256()
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    part.update(chunk)
            h.update(part.digest())
        _sha_cache[key] = h.hexdigest()
    return _sha_cache[key]


def load_pretrained(folder: Path, trust_remote_code: bool) -> tuple[Any, Any]:
    """(feature extractor, model) from `folder` with transformers' Auto classes, offline."""
    from transformers import AutoFeatureExtractor, AutoModel
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        extractor = AutoFeatureExtractor.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=trust_remote_code
        )
        model = AutoModel.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the folder's problem
        text = str(exc).strip()
        first = text.splitlines()[0] if text else ""
        hint = "" if trust_remote_code else " (models with custom code need -o audio.trust_remote_code=true)"
        raise InputError(
            folder, f"cannot load an audio model and feature extractor ({type(exc).__name__}: {first}){hint}"
        ) from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    rate = getattr(extractor, "sampling_rate", None)
    if not isinstance(rate, int) or rate <= 0:
        raise InputError(folder, "the feature extractor has no sampling_rate: not an audio model")
    return extractor, model
