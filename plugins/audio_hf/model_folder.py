"""The local Hugging Face folder an `hf` audio encoder runs: checking, hashing and loading it.
Nothing here downloads: every load passes `local_files_only=True`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError
from ugaar_kit.toolkit.model_folder import check_model_folder as _check


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


def check_model_folder(path: Path) -> Path:
    """`path` resolved, or InputError when it is not a transformers model folder."""
    return _check(path, "audio.model")
