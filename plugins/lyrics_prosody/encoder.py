"""The `prosody` lyrics encoder: the line as a sequence of syllables with their prosody, read by
a bidirectional GRU.

A line meets its melody through its shape more than its meaning: one note per syllable, long
notes on stressed and long-vowel syllables, word ends on beats, line ends on long notes. So each
syllable keeps its place in the sequence, with

- its text, hashed into `buckets` learnt embeddings (no vocabulary to fit, unseen syllables
  share buckets);
- its place in its word (single, first, middle, last) and its word's length in syllables, the
  words rebuilt from the syllables with the CMU dictionary (`words.rebuild`);
- the lexical stress of its vowel (primary, secondary, none) and the vowel (ARPAbet: long or short);
- its place in the line (relative position) and its length in letters.

A GRU over the syllables is pooled (masked mean and max) and joined with the line's syllable
count (`log(1 + n)` and a learnt embedding of `min(n, 16)`: the count is the cue measured to
matter most) before a dense head. Lines the dictionary does not read (`language=none`, or a line
mostly outside it) keep their text, line position and count; word position and stress are
marked unknown. The switches `text`, `stress`, `word_position`, `vowel` drop one kind of
feature from the model without touching the cached features (for ablations).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ugaar_kit.data.media import load_lyrics
from ugaar_kit.interfaces.encoder import Batch, Encoder, pad_last
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import TextLines
from ugaar_kit.toolkit.layers import CountEmbedding, DenseHead, MaskedPool, masked_gru

from . import words

ROWS = ("text", "position", "stress", "vowel", "word_syllables", "line_position", "letters")
"""The rows of the `(7, L)` features, one column per syllable; the first five are ids."""
TEXT, POSITION, STRESS, VOWEL, WORD_SYLLABLES, LINE_POSITION, LETTERS = range(len(ROWS))
MAX_WORD_SYLLABLES = 8
"""Word lengths get their own embedding up to this many syllables."""


@dataclass(frozen=True)
class ProsodyOptions:
    language: Literal["en", "none"] = option(
        "en", "Dictionary for word boundaries and stress: English CMU (en) or none (text and position only)."
    )
    buckets: int = option(4096, "Hash buckets of the syllables' text embedding.", min=1, max=1 << 20)
    text_dim: int = option(32, "Width of the syllable-text embedding.", min=1, max=4096)
    hidden_size: int = option(128, "Hidden units of the GRU, each direction.", min=1, max=8192)
    layers: int = option(1, "GRU layers.", min=1, max=8)
    count_dim: int = option(16, "Width of the learnt syllable-count embedding.", min=1, max=1024)
    text: bool = option(True, "Use the syllables' text (false: prosody and count only; an ablation).")
    stress: bool = option(True, "Use the lexical stress (an ablation switch).")
    word_position: bool = option(True, "Use the place in the word and the word's length (an ablation switch).")
    vowel: bool = option(True, "Use the vowel and its length (an ablation switch).")
    hidden: int = option(256, "Width of the head's hidden layer (0: one linear layer).", min=0, max=65536)
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout before the GRU and after the head's hidden layer.", min=0.0, max=0.9)


def syllable_id(text: str, buckets: int) -> int:
    """A syllable's text bucket, 1..buckets (0 is padding); stable across runs and machines."""
    return zlib.crc32(text.encode("utf-8")) % buckets + 1


def line_features(raw: str, language: str = "en", buckets: int = 4096) -> Tensor:
    """Normalized lyrics (syllables separated by spaces) -> `(7, L)` float32, rows as in `ROWS`."""
    syllables = str(raw).split()
    if language == "en":
        infos = words.rebuild(syllables)
    else:
        infos = [words.SyllableInfo(s) for s in syllables]
    n = len(infos)
    out = torch.zeros(len(ROWS), max(n, 1))  # an empty line: one all-padding column
    for i, info in enumerate(infos):
        out[TEXT, i] = syllable_id(info.text, buckets)
        out[POSITION, i] = info.position
        out[STRESS, i] = info.stress
        out[VOWEL, i] = info.vowel
        out[WORD_SYLLABLES, i] = min(info.word_syllables, MAX_WORD_SYLLABLES)
        out[LINE_POSITION, i] = i / (n - 1) if n > 1 else 0.0
        out[LETTERS, i] = math.log1p(len(info.text))
    return out


class ProsodyLyrics(TextLines, Encoder):
    """Lyrics as a sequence of syllables with text, word position, stress and vowel, read by a
    BiGRU, pooled with the syllable count, then a dense head.

    Features: `(7, L)` float32, one column per syllable (rows in `ROWS`). Batch: `(B, 7, L)`
    padded with zeros, mask `(B, L)`. Output: `(B, dim)` float32."""

    name: ClassVar[str] = "prosody"
    modality: ClassVar[str] = "lyrics"
    description: ClassVar[str] = "Syllable sequence with word position, stress and vowel (CMU dictionary), BiGRU"
    Options: ClassVar[type] = ProsodyOptions
    extensions: ClassVar[tuple[str, ...]] = (".txt",)
    feature_options: ClassVar[tuple[str, ...] | None] = ("language", "buckets")
    feature_version: ClassVar[int] = 1

    def __init__(self, options: ProsodyOptions | None = None) -> None:
        super().__init__(options)
        o: ProsodyOptions = self.options
        self.text_embedding = nn.Embedding(o.buckets + 1, o.text_dim, padding_idx=0)
        self.position_embedding = nn.Embedding(len(words.POSITIONS), 4)
        self.word_length_embedding = nn.Embedding(MAX_WORD_SYLLABLES + 1, 4)
        self.stress_embedding = nn.Embedding(len(words.STRESSES), 4)
        self.vowel_embedding = nn.Embedding(len(words.VOWELS) + 1, 8)
        width = o.text_dim + 4 + 4 + 4 + 8 + 2
        self.dropout = nn.Dropout(o.dropout)
        self.gru = nn.GRU(width, o.hidden_size, num_layers=o.layers, batch_first=True, bidirectional=True)
        self.count_embedding = CountEmbedding(o.count_dim)
        self.pool = MaskedPool("mean+max")
        width = self.pool.out_features(2 * o.hidden_size) + self.count_embedding.out_features()
        self.head = DenseHead(width, o.dim, o.hidden, o.dropout)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def load_item(self, path: Path) -> str:
        return load_lyrics(path)

    def featurize(self, raw: str) -> Tensor:
        """Normalized lyrics -> `(7, L)` float32 (see `line_features`)."""
        return line_features(raw, self.options.language, self.options.buckets)

    def collate(self, features: Sequence[Tensor]) -> Batch:
        return pad_last([f.float() for f in features])

    def _inputs(self, data: Tensor) -> Tensor:
        """`(B, 7, L)` features -> `(B, L, width)` per-syllable inputs, switched-off kinds zeroed."""
        o: ProsodyOptions = self.options
        ids = data[:, : WORD_SYLLABLES + 1].round().long()  # the id rows

        def use(on: bool, x: Tensor) -> Tensor:
            return x if on else torch.zeros_like(x)

        parts = [
            use(o.text, self.text_embedding(ids[:, TEXT].clamp(0, o.buckets))),
            use(o.word_position, self.position_embedding(ids[:, POSITION].clamp(0, len(words.POSITIONS) - 1))),
            use(o.word_position, self.word_length_embedding(ids[:, WORD_SYLLABLES].clamp(0, MAX_WORD_SYLLABLES))),
            use(o.stress, self.stress_embedding(ids[:, STRESS].clamp(0, len(words.STRESSES) - 1))),
            use(o.vowel, self.vowel_embedding(ids[:, VOWEL].clamp(0, len(words.VOWELS)))),
            data[:, LINE_POSITION].unsqueeze(-1).float(),
            use(o.text, data[:, LETTERS].unsqueeze(-1).float()),
        ]
        return torch.cat(parts, dim=-1)

    def forward(self, batch: Batch) -> Tensor:
        """`(B, 7, L)` features with mask `(B, L)` -> `(B, dim)` float32."""
        data = batch.data
        mask = batch.mask if batch.mask is not None else torch.ones(data.shape[0], data.shape[-1], dtype=torch.bool)
        mask = mask.to(data.device)
        lengths = mask.sum(dim=1)
        x = self.dropout(self._inputs(data))
        states = masked_gru(self.gru, x.transpose(1, 2), mask)  # (B, 2H, L)
        pooled = self.pool(states, mask)  # masked mean and max: (B, 4H)
        pooled = torch.cat([pooled, self.count_embedding(lengths)], dim=1)
        return self.head(pooled)
