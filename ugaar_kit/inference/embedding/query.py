"""One search query to one shared-space embedding: a file, or text for a text modality."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.features.encode import device_of, evaluating, forward
from ugaar_kit.inference.embedding.settings import TrainedModel, extension_routes


def embed_query(
    run: TrainedModel, path: str | Path | None = None, text: str | None = None, modality: str | None = None
) -> tuple[str, np.ndarray]:
    """(modality, `(D,)` shared-space embedding) of one query: a file, or `text`.

    A file's modality comes from its extension unless given, and its encoder's `query_input`
    reads it (lyrics: its lines joined into one passage; audio: the whole recording, which its
    encoder may cap). `text` goes to the run's one modality whose encoder takes text
    (`text_input`: lyrics), or to `modality`."""
    if (path is None) == (text is None):
        raise OptionError("give a query file or --text, not both")
    file = Path(path) if path is not None else None
    if text is not None:
        if modality is None:
            texts = [m for m in run.modalities if getattr(run.encoders[m], "text_input", False)]
            if len(texts) != 1:
                raise OptionError(
                    f"--text: the run has {len(texts) or 'no'} text modalities ({', '.join(texts) or 'none'}); "
                    "choose one with --modality"
                )
            modality = texts[0]
    elif file is not None:
        if not file.is_file():
            raise InputError(file, "no such file" if not file.exists() else "not a file")
        if modality is None:
            routes = extension_routes(run)
            modality = routes.get(file.suffix.lower())
            if modality is None:
                known = ", ".join(sorted(routes)) or "none"
                raise InputError(
                    file, f"cannot tell the modality of '{file.suffix}' files (the run reads {known}); use --modality"
                )
    if modality is None or modality not in run.encoders:
        raise OptionError(f"the run has no {modality} encoder (it has: {', '.join(run.modalities)})")
    encoder = run.encoders[modality]
    raw = encoder.query_input(file, text)
    with evaluating(encoder):
        z = forward(
            encoder, [encoder.featurize(raw)], device_of(encoder), functools.partial(run.objective.project, modality)
        )
    return modality, z[0].cpu().numpy()
