"""A lyrics encoder over syllable structure: one step per syllable, its length in characters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ugaar_kit.data.media import load_lyrics
from ugaar_kit.interfaces.encoder import Batch, Encoder, masked_mean
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import TextLines

MAX_LEN = 12  # syllables longer than this many characters share the last bucket


@dataclass(frozen=True)
class SyllableOptions:
    dim: int = option(32, "Embedding size.", min=1)
    hidden: int = option(32, "Channels of the 1-D convolution over syllables.", min=1)


class SyllableEncoder(TextLines, Encoder):
    """Embeds a lyric line from its syllables' lengths and order (not their meaning)."""

    name = "syllables"
    modality = "lyrics"
    description = "Syllable-structure lyrics encoder (example third-party plugin)."
    Options = SyllableOptions
    extensions = (".txt",)

    def __init__(self, options: SyllableOptions | None = None) -> None:
        super().__init__(options)
        o = self.options
        self.embed = nn.Embedding(MAX_LEN + 1, o.hidden)
        self.conv = nn.Conv1d(o.hidden, o.hidden, kernel_size=3, padding=1)
        self.head = nn.Linear(o.hidden + 1, o.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> str:
        # The toolkit's reader: UTF-8 checks, one-line errors, the shared lyrics normalizer.
        return load_lyrics(path)

    def featurize(self, raw: str) -> Tensor:
        """Syllable lengths, `(T,)` int64 (at least one step, so an empty line still embeds)."""
        lengths = [min(len(s), MAX_LEN) for s in raw.split()] or [0]
        return torch.tensor(lengths, dtype=torch.long)

    def collate(self, features: list[Tensor]) -> Batch:
        n = max(len(f) for f in features)
        data = torch.zeros(len(features), n, dtype=torch.long)
        mask = torch.zeros(len(features), n, dtype=torch.bool)
        for i, f in enumerate(features):
            data[i, : len(f)] = f
            mask[i, : len(f)] = True
        return Batch(data, mask)

    def forward(self, batch: Batch) -> Tensor:
        x = self.embed(batch.data).transpose(1, 2)  # (B, hidden, T)
        mask = batch.mask
        if mask is not None:
            x = x * mask.unsqueeze(1)
        x = torch.relu(self.conv(x))
        pooled = masked_mean(x, mask)
        count = mask.sum(1, keepdim=True).float() if mask is not None else torch.full((len(x), 1), float(x.shape[-1]))
        return self.head(torch.cat([pooled, torch.log1p(count)], dim=1))
