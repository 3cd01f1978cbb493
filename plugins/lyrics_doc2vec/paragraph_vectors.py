"""A gensim Doc2Vec model kept as plain arrays, with inference that is the same in every process.

gensim's own `infer_vector` seeds each document's starting vector with Python's salted `hash`
(different under each PYTHONHASHSEED) and draws negative samples from the model's shared RNG
(different after every call). `infer` below runs the same gensim training kernels but seeds the
starting vector with a sha256 of the text and resets the RNG before every document, so a text
always gets the same vector. The model is saved by `to_state` as tensors, strings and numbers
(word vectors, the output layer `syn1neg`, the vocabulary with counts, the settings) and rebuilt
into a gensim model by `from_state`: no pickle is involved.

gensim is imported inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

STATE_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """The gensim Doc2Vec settings that fitting and inference depend on (negative sampling only)."""

    vector_size: int = 100
    window: int = 5
    min_count: int = 2
    dm: bool = False
    negative: int = 5
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 20
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def stable_hash(text: str) -> int:
    """A 32-bit hash of `text` that is the same in every process (unlike the salted `hash`)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


def _new_model(settings: Settings, sorted_vocab: bool = True):  # noqa: ANN202 - gensim.models.Doc2Vec
    from gensim.models.doc2vec import Doc2Vec

    s = settings
    return Doc2Vec(
        vector_size=s.vector_size,
        window=s.window,
        min_count=s.min_count,
        dm=int(s.dm),
        hs=0,
        negative=s.negative,
        sample=s.sample,
        alpha=s.alpha,
        min_alpha=s.min_alpha,
        epochs=s.epochs,
        seed=s.seed,
        workers=1,
        hashfxn=stable_hash,
        sorted_vocab=int(sorted_vocab),
    )


def train(documents: Sequence[Sequence[str]], settings: Settings):  # noqa: ANN201 - gensim Doc2Vec
    """Fit a Doc2Vec model on tokenized documents with one worker (so the result is reproducible).

    Raises ValueError when no token occurs `min_count` times."""
    from gensim.models.doc2vec import TaggedDocument

    corpus = [TaggedDocument(list(words), [i]) for i, words in enumerate(documents)]
    model = _new_model(settings)
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise ValueError(f"no syllable occurs at least min_count={settings.min_count} times in {len(corpus)} lines")
    model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs)
    return model


def infer(model: Any, words: Sequence[str], seed: int) -> np.ndarray:
    """The paragraph vector `(vector_size,)` float32 of one tokenized document.

    The same computation as gensim's `Doc2Vec.infer_vector` (its epochs and learning-rate
    schedule), with the start vector seeded by a sha256 of the text and the model's RNG reset to
    `seed` first, so the result does not depend on the process or on earlier calls."""
    from gensim import matutils
    from gensim.models.doc2vec_inner import train_document_dbow, train_document_dm

    words = list(words)
    size = model.dv.vector_size
    rng = np.random.Generator(np.random.SFC64(stable_hash(" ".join(words))))
    doctag_vectors = ((rng.random(size).astype(np.float32) - 0.5) / size).reshape(1, size)
    doctags_lockf = np.ones(1, dtype=np.float32)
    work = np.zeros(model.layer1_size, dtype=np.float32)
    neu1 = matutils.zeros_aligned(model.layer1_size, dtype=np.float32)
    model.random = np.random.RandomState(seed)  # the kernels draw negatives and windows from it

    alpha, min_alpha, epochs = model.alpha, model.min_alpha, model.epochs
    alpha_delta = (alpha - min_alpha) / max(epochs - 1, 1)
    for _ in range(epochs):
        common = dict(learn_words=False, learn_hidden=False, doctag_vectors=doctag_vectors, doctags_lockf=doctags_lockf)
        if model.sg:
            train_document_dbow(model, words, [0], alpha, work, **common)
        else:
            train_document_dm(model, words, [0], alpha, work, neu1, **common)
        alpha -= alpha_delta
    return doctag_vectors[0].copy()


def to_state(model: Any, settings: Settings) -> dict[str, Any]:
    """The fitted model as plain values: what `infer` needs and nothing else (no pickle)."""
    words = list(model.wv.index_to_key)
    return {
        "version": STATE_VERSION,
        "settings": settings.to_dict(),
        "words": words,
        "counts": torch.tensor([int(model.wv.get_vecattr(w, "count")) for w in words], dtype=torch.int64),
        "vectors": torch.from_numpy(np.array(model.wv.vectors, dtype=np.float32)),
        "syn1neg": torch.from_numpy(np.array(model.syn1neg, dtype=np.float32)),
    }


def from_state(state: dict[str, Any]):  # noqa: ANN201 - gensim Doc2Vec
    """Rebuild a gensim model from `to_state` output; ValueError on a malformed state."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"doc2vec state version {state.get('version')!r} is not {STATE_VERSION}")
    settings = Settings(**state["settings"])
    words, counts = list(state["words"]), state["counts"].tolist()
    vectors, syn1neg = state["vectors"].numpy(), state["syn1neg"].numpy()
    n = len(words)
    if not (len(counts) == n and vectors.shape == (n, settings.vector_size) and syn1neg.shape == vectors.shape):
        raise ValueError("doc2vec state has inconsistent vocabulary and array sizes")
    if len(set(words)) != n or not all(isinstance(w, str) for w in words):
        raise ValueError("doc2vec state vocabulary must hold distinct strings")

    # Unsorted, so the vocabulary keeps the saved order (sorting would reorder words of equal
    # count, and negative sampling draws words by index).
    model = _new_model(settings, sorted_vocab=False)
    model.build_vocab_from_freq(dict(zip(words, counts)))
    if list(model.wv.index_to_key) != words:
        raise ValueError("doc2vec state vocabulary did not rebuild in its saved order (counts below min_count?)")
    model.wv.vectors[:] = vectors
    model.syn1neg[:] = syn1neg
    return model


def digest(state: dict[str, Any]) -> str:
    """A sha256 of a `to_state` output: changes whenever the inferred vectors could change."""
    h = hashlib.sha256()
    h.update(json.dumps({"version": state["version"], "settings": state["settings"]}, sort_keys=True).encode())
    h.update("\0".join(state["words"]).encode("utf-8"))
    for key in ("counts", "vectors", "syn1neg"):
        h.update(state[key].contiguous().numpy().tobytes())
    return h.hexdigest()
