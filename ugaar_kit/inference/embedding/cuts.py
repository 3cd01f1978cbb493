"""A recording query cut at any stretch, each stretch embedded on demand and kept.

`locate` reads a short recording against a piece's page windows twice: by the store's fixed
windows (`embed_queries`), and by cutting the query at each page window's own span wherever it
tries the piece (`ugaar_kit.retrieval.locate.cut_fit`). A training page window is paired with
the stretch of the recording its notes sound in, 2.6 to 6.2 s (5th to 95th percentile on the
LMD build), so a cut of that stretch is what the model learnt to match, where a fixed 3.5-s
window is not: on the test songs of the default run (seed 0) a page window's own stretch scores
it above every page window of its song 3 s or more away for 0.64 of the page windows, a 3.5-s
window centred on it for 0.53.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.features.encode import device_of, encode_features
from ugaar_kit.inference.embedding.settings import TrainedModel
from ugaar_kit.interfaces.rows import Waveform, sample_rate_of

CUT_MAX_SECONDS = 30.0
"""Recordings longer than this are not cut (`query_cuts`): their fixed windows are many, and the
stretches to cut grow with the square of the length."""
MIN_CUT_SECONDS = 0.5
"""A stretch shorter than this is widened to it, about its middle (an encoder needs samples)."""


class QueryCuts:
    """The recording `path` as its `modality`'s encoder of `run` reads it, loaded when first cut;
    calling it with spans (seconds from the start) gives their unit shared-space vectors `(N, D)`,
    each stretch embedded once (kept by its span rounded to the millisecond)."""

    def __init__(self, run: TrainedModel, path: Path, modality: str, batch_size: int = 64) -> None:
        self.encoder = run.encoders[modality]
        rate = sample_rate_of(self.encoder)
        assert rate is not None, f"the {modality} encoder has no sample_rate"
        self.rate, self.path = rate, Path(path)
        self.project = functools.partial(run.objective.project, modality)
        self.batch_size = batch_size
        self.kept: dict[tuple[int, int], np.ndarray] = {}

    @functools.cached_property
    def wave(self) -> Any:
        """The whole recording, `(S,)` at the encoder's rate."""
        from ugaar_kit.data.media import load_audio

        return load_audio(self.path, self.rate)

    def _samples(self, key: tuple[int, int]) -> tuple[int, int]:
        a, b = key[0] / 1000, key[1] / 1000
        if b - a < MIN_CUT_SECONDS:
            middle = (a + b) / 2
            a, b = middle - MIN_CUT_SECONDS / 2, middle + MIN_CUT_SECONDS / 2
        seconds = len(self.wave) / self.rate
        a = min(max(0.0, a), max(0.0, seconds - MIN_CUT_SECONDS))
        b = max(min(seconds, b), a + MIN_CUT_SECONDS)
        return int(a * self.rate), int(b * self.rate)

    def __call__(self, spans: Sequence[tuple[float, float]]) -> np.ndarray:
        keys = [(int(round(a * 1000)), int(round(b * 1000))) for a, b in spans]
        new = list(dict.fromkeys(k for k in keys if k not in self.kept))
        if new:
            feats = []
            for k in new:
                a, b = self._samples(k)
                feats.append(self.encoder.featurize(self.wave[a:b]))
            encoded = encode_features(self.encoder, feats, self.batch_size, device_of(self.encoder), self.project)
            z = encoded.float().cpu().numpy()
            z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            self.kept.update(zip(new, z))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.kept[k] for k in keys])


def query_cuts(run: TrainedModel, path: Path, modality: str, seconds: float | None = None) -> QueryCuts | None:
    """`QueryCuts` of a recording query of `modality` lasting `seconds` (read from the file's
    header when not given), or None when its encoder does not read waveforms (`Waveform`), it
    lasts longer than `CUT_MAX_SECONDS` or its header cannot be read (nothing is loaded then)."""
    if not isinstance(run.encoders.get(modality), Waveform):
        return None
    if seconds is None:
        import soundfile

        try:
            seconds = float(soundfile.info(str(path)).duration)
        except (RuntimeError, OSError):  # soundfile's LibsndfileError is a RuntimeError
            return None
    return QueryCuts(run, Path(path), modality) if seconds <= CUT_MAX_SECONDS else None
