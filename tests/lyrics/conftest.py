"""Fixtures of the lyrics-encoder tests: public-domain lyric lines and a tiny random BERT folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ugaar_kit.data.lyrics_text import normalize_lyrics

# Public-domain texts: "The Star" (Jane Taylor, 1806), "Amazing Grace" (John Newton, 1779),
# "Mary Had a Little Lamb" (Sarah Josepha Hale, 1830), "Oh! Susanna" (Stephen Foster, 1848),
# "Row, Row, Row Your Boat" (1852), "Home! Sweet Home!" (John Howard Payne, 1823),
# "Auld Lang Syne" (Robert Burns, 1788).
PUBLIC_DOMAIN_LYRICS = """\
Twinkle, twinkle, little star
How I wonder what you are
Up above the world so high
Like a diamond in the sky
When the blazing sun is gone
When he nothing shines upon
Then you show your little light
Twinkle, twinkle, all the night
Amazing grace, how sweet the sound
That saved a wretch like me
I once was lost, but now am found
Was blind, but now I see
'Twas grace that taught my heart to fear
And grace my fears relieved
How precious did that grace appear
The hour I first believed
Mary had a little lamb
Its fleece was white as snow
And everywhere that Mary went
The lamb was sure to go
It followed her to school one day
Which was against the rule
It made the children laugh and play
To see a lamb at school
I come from Alabama with my banjo on my knee
I'm going to Louisiana, my true love for to see
It rained all night the day I left
The weather it was dry
The sun so hot I froze to death
Susanna, don't you cry
Oh, Susanna, oh don't you cry for me
Row, row, row your boat
Gently down the stream
Merrily, merrily, merrily, merrily
Life is but a dream
Mid pleasures and palaces though we may roam
Be it ever so humble, there's no place like home
A charm from the skies seems to hallow us there
Which, seek through the world, is ne'er met with elsewhere
Home, home, sweet, sweet home
There's no place like home
Should auld acquaintance be forgot
And never brought to mind
Should auld acquaintance be forgot
And days of auld lang syne
For auld lang syne, my dear
For auld lang syne
We'll take a cup of kindness yet
"""


@pytest.fixture(scope="session")
def lyric_lines() -> list[str]:
    """About 50 distinct public-domain lyric lines, normalized like dataset lyrics."""
    lines = [normalize_lyrics(line) for line in PUBLIC_DOMAIN_LYRICS.splitlines()]
    return list(dict.fromkeys(line for line in lines if line))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, lyric_lines: list[str]) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with a word-piece vocabulary of the test
    lines' syllables, saved as a local transformers folder (model and tokenizer)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    syllables = sorted({s for line in lyric_lines for s in line.split()})
    letters = sorted({c for s in syllables for c in s})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *syllables]
    vocab = list(dict.fromkeys(vocab))
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab_file=str(vocab_file)).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder
