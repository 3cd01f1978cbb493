"""The `doc2vec` lyrics encoder: a Doc2vec paragraph vector of the line, then dense layers.

As in Yu et al. (arXiv 1711.08976): gensim Doc2vec is fitted on the training split's lyrics,
each line's inferred vector is its feature, and a small MLP maps it into the shared space.
By default the line's syllable count (its number of notes: the one lyrics cue measured to
relate to the melody) is appended to the vector as `log(1 + n)` and a one-hot of `min(n, 16)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ugaar_kit.data.media import load_lyrics
from ugaar_kit.errors import UgaarError
from ugaar_kit.interfaces.encoder import Batch, Encoder
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import TextLines
from ugaar_kit.toolkit.layers import COUNT_BUCKETS

from . import paragraph_vectors as pv


def count_features(n: int) -> Tensor:
    """`(1 + COUNT_BUCKETS + 1,)` float32: `log(1 + n)` then a one-hot of `min(n, COUNT_BUCKETS)`."""
    out = torch.zeros(COUNT_BUCKETS + 2)
    out[0] = float(torch.log1p(torch.tensor(float(n))))
    out[1 + min(n, COUNT_BUCKETS)] = 1.0
    return out


@dataclass(frozen=True)
class Doc2VecOptions:
    vector_size: int = option(100, "Width of the Doc2vec paragraph vector.", min=4, max=4096)
    epochs: int = option(20, "Doc2vec epochs, for fitting and for inferring each line's vector.", min=1, max=1000)
    window: int = option(5, "Doc2vec context window, in syllables.", min=1, max=50)
    min_count: int = option(2, "Ignore syllables seen fewer times in the training lyrics.", min=1)
    dm: bool = option(False, "Doc2vec variant: PV-DM (true) or PV-DBOW (false).")
    negative: int = option(5, "Doc2vec negative samples per positive one.", min=1, max=100)
    sample: float = option(1e-3, "Down-sampling threshold of frequent syllables (0: off).", min=0.0, max=1.0)
    alpha: float = option(0.025, "Doc2vec initial learning rate (fitting and inference).", min=1e-6, max=1.0)
    seed: int = option(0, "Seed of Doc2vec fitting and inference.", min=0)
    count_features: bool = option(True, "Append the syllable count (log and one-hot) to the paragraph vector.")
    hidden: int = option(256, "Width of the hidden dense layer (0: one linear layer).", min=0, max=65536)
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout after the hidden layer.", min=0.0, max=0.9)


class Doc2VecLyrics(TextLines, Encoder):
    """Lyrics as a Doc2vec paragraph vector (fitted on the training split) through dense layers.

    Features: `(F,)` float32, F = vector_size (+ 18 with count_features). Batch: `(B, F)`, no
    mask. Output: `(B, dim)`."""

    name: ClassVar[str] = "doc2vec"
    modality: ClassVar[str] = "lyrics"
    description: ClassVar[str] = "Doc2vec paragraph vector of the line (+ syllable count) through dense layers"
    Options: ClassVar[type] = Doc2VecOptions
    extensions: ClassVar[tuple[str, ...]] = (".txt",)
    default: ClassVar[bool] = True  # the encoder of its modality when a run names none
    needs_fit: ClassVar[bool] = True

    def __init__(self, options: Doc2VecOptions | None = None) -> None:
        super().__init__(options)
        o: Doc2VecOptions = self.options
        width = o.vector_size + (COUNT_BUCKETS + 2 if o.count_features else 0)
        if o.hidden:
            self.head: nn.Module = nn.Sequential(
                nn.Linear(width, o.hidden), nn.ReLU(), nn.Dropout(o.dropout), nn.Linear(o.hidden, o.dim)
            )
        else:
            self.head = nn.Linear(width, o.dim)
        self._model: Any = None  # the gensim Doc2Vec, once fitted or loaded
        self._state: dict[str, Any] = {}
        self._digest = ""

    @property
    def settings(self) -> pv.Settings:
        o: Doc2VecOptions = self.options
        return pv.Settings(
            vector_size=o.vector_size,
            window=o.window,
            min_count=o.min_count,
            dm=o.dm,
            negative=o.negative,
            sample=o.sample,
            alpha=o.alpha,
            epochs=o.epochs,
            seed=o.seed,
        )

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    @property
    def is_fitted(self) -> bool:
        return self._model is not None

    def load_item(self, path: Path) -> str:
        return load_lyrics(path)

    def fit(self, raws: Sequence[Any]) -> None:
        """Fit Doc2vec on the training split's lyrics (normalized strings, syllables by spaces)."""
        documents = [str(r).split() for r in raws if r and str(r).strip()]
        if not documents:
            raise UgaarError("lyrics/doc2vec: no lyrics to fit on (the training split has no non-empty lyrics)")
        try:
            model = pv.train(documents, self.settings)
        except ValueError as exc:
            raise UgaarError(f"lyrics/doc2vec: cannot fit: {exc}; lower lyrics.min_count") from None
        self._use(model, pv.to_state(model, self.settings))

    def _use(self, model: Any, state: dict[str, Any]) -> None:
        self._model, self._state, self._digest = model, state, pv.digest(state)

    def _require_fitted(self) -> None:
        if self._model is None:
            raise UgaarError("lyrics/doc2vec is not fitted: fit() it on the training lyrics or load a checkpoint")

    def featurize(self, raw: str) -> Tensor:
        """Normalized lyrics -> `(F,)` float32: paragraph vector [+ syllable-count features]."""
        self._require_fitted()
        words = str(raw).split()
        vec = torch.from_numpy(pv.infer(self._model, words, self.options.seed))
        if self.options.count_features:
            vec = torch.cat([vec, count_features(len(words))])
        return vec

    def collate(self, features: Sequence[Tensor]) -> Batch:
        return Batch(torch.stack(list(features)).float())

    def forward(self, batch: Batch) -> Tensor:
        """`(B, F)` features -> `(B, dim)` float32."""
        return self.head(batch.data.float())

    def feature_key(self) -> str:
        """Hash of the fitted model and the options the features depend on."""
        self._require_fitted()
        payload = json.dumps(
            {"encoder": "lyrics/doc2vec", "model": self._digest, "count_features": self.options.count_features},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def model_digest(self) -> str:
        """sha256 of the fitted Doc2vec model ('' before fitting)."""
        return self._digest

    def get_extra_state(self) -> dict[str, Any]:
        """The fitted Doc2vec model as plain tensors, strings and numbers ({} before fitting)."""
        return {"doc2vec": self._state} if self._state else {}

    def set_extra_state(self, state: Any) -> None:
        if not state:
            self._model, self._state, self._digest = None, {}, ""
            return
        try:
            model = pv.from_state(state["doc2vec"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UgaarError(f"lyrics/doc2vec: malformed fitted model in the checkpoint ({exc})") from None
        self._use(model, state["doc2vec"])
