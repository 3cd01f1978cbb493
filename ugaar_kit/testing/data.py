"""Dataset folders and media files for tests, written from seeded random draws.

- `write_dataset`: tiny melodies, one song each, in the splits asked for. An item's audio is its
  notes as sine tones, its sheet a 16-row image with one bar per note (row = pitch, length =
  duration) and its lyrics the pitch names, so the three modalities carry the same content and
  retrieval is learnable in a few epochs (what the trainer's tests train on).
- `write_songs`: songs of several passages with random syllables for lyrics; some songs repeat a
  passage verbatim (same `group`); rows carry `notes` as [pitch, onset_s, duration_s] like the
  builder's (what the `eval` tests evaluate on).
- `write_wav`, `write_png`, `write_text`: single files; `write_embed_folder`: good and bad files
  to embed (corrupt, empty, links out of the folder), with `GOOD_FILES` and `BAD_FILES` saying
  which is which.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image

SR = 8000
"""The sample rate of the written tones and of the kit's audio encoders."""
HEIGHT = 16
"""The height of the written sheet images: rows the kit's sheet encoders take as channels."""
MODALITIES = ("audio", "sheet", "lyrics")
PITCH_NAMES = ("do", "re", "mi", "fa", "sol", "la", "ti", "doh")
SYLLABLES = ("la", "na", "do", "re", "mi", "so", "ti", "ka", "lo", "be")

Notes = list[tuple[int, float]]
"""(pitch, duration in seconds) of each note."""


# -- drawing and writing one item ----------------------------------------------------------
def melody(
    rng: np.random.Generator,
    pitches: int = 8,
    durations: Sequence[float] = (0.08, 0.12, 0.16),
    lengths: tuple[int, int] = (3, 7),
) -> Notes:
    """Notes of a random melody: its length drawn from `lengths` (low inclusive, high
    exclusive), then each note's pitch (0 to `pitches` - 1) and duration (one of `durations`)."""
    n = int(rng.integers(*lengths))
    return [(int(rng.integers(0, pitches)), float(rng.choice(list(durations)))) for _ in range(n)]


def write_item(root: Path, item_id: str, notes: Notes, lyrics: str, staff: int = 15) -> dict[str, str]:
    """Audio and sheet of one passage whose notes' pitches are semitones above 220 Hz: a sine
    tone per note (`SR`, 16-bit WAV) and a `HEIGHT`-row image with a 2-row bar per note, its
    row the pitch (pitches wrap around after `staff` rows), its length the duration. Returns
    the manifest fields: `audio` and `sheet` (paths relative to `root`) and `lyrics`."""
    waves = []
    for pitch, dur in notes:
        t = np.arange(int(dur * SR)) / SR
        waves.append(0.5 * np.sin(2 * np.pi * 220.0 * 2 ** (pitch / 12) * t))
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    soundfile.write(root / "audio" / f"{item_id}.wav", np.concatenate(waves).astype(np.float32), SR)
    widths = [int(d * 100) for _, d in notes]
    img = np.full((HEIGHT, sum(widths) + 2), 255, np.uint8)
    x = 1
    for (pitch, _), w in zip(notes, widths):
        row = HEIGHT - 2 - pitch % staff
        img[row : row + 2, x : x + w - 1] = 0
        x += w
    Image.fromarray(img).save(root / "sheet" / f"{item_id}.png")
    return {"audio": f"audio/{item_id}.wav", "sheet": f"sheet/{item_id}.png", "lyrics": lyrics}


def write_manifest(root: Path, rows: Sequence[Mapping[str, Any]], name: str) -> Path:
    """`manifest.jsonl` (a row a line) and `dataset.json` of a dataset folder; returns `root`."""
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "dataset.json").write_text(json.dumps({"name": name}), encoding="utf-8")
    return root


# -- dataset folders -----------------------------------------------------------------------
def write_dataset(
    root: Path,
    splits: Mapping[str, int] | None = None,
    seed: int = 0,
    modalities: Sequence[str] = MODALITIES,
    notes: bool = False,
    name: str = "tiny-melodies",
) -> Path:
    """A dataset folder of tiny melodies (see the module), `{split: items}` (default 32 train
    and 12 valid), one song each, with the modalities given; with `notes`, rows carry the notes
    ([60 + pitch, 0.0, duration]: what the syllable-count baseline counts)."""
    splits = {"train": 32, "valid": 12} if splits is None else splits
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    k = 0
    for split, n in splits.items():
        for _ in range(n):
            item_id = f"m{k:03d}"
            drawn = melody(rng)
            lyrics = " ".join(PITCH_NAMES[p] for p, _ in drawn)
            fields = write_item(root, item_id, [(2 * p, d) for p, d in drawn], lyrics)
            row: dict[str, Any] = {"id": item_id, "song": f"song{k}", "split": split}
            row.update({m: fields[m] for m in modalities})
            if notes:
                row["notes"] = [[60 + p, 0.0, d] for p, d in drawn]
            rows.append(row)
            k += 1
    return write_manifest(root, rows, name)


def write_songs(
    root: Path,
    splits: Mapping[str, int] | None = None,
    passages: int = 3,
    seed: int = 0,
    modalities: Sequence[str] = MODALITIES,
) -> Path:
    """Songs of `passages` passages per split (`{split: songs}`, default 14 test songs); every
    third song sings its first passage again verbatim at the end (same group). Lyrics often have
    one syllable more or fewer than the notes, so the syllable-count baseline is informative but
    not perfect."""
    splits = {"train": 0, "test": 14} if splits is None else splits
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    song_no = 0
    for split, n_songs in splits.items():
        for _ in range(n_songs):
            song = f"song{song_no:03d}"
            song_no += 1
            drawn = []
            for k in range(passages):
                notes = melody(rng, pitches=24, durations=(0.06, 0.1, 0.14), lengths=(3, 12))
                syl = max(1, len(notes) + int(rng.choice([-1, 0, 0, 1])))
                lyrics = " ".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), syl))
                drawn.append((f"{song}-p{k}", notes, lyrics, f"g{k}"))
            if song_no % 3 == 0:
                first = drawn[0]
                drawn.append((f"{song}-p{passages}", first[1], first[2], first[3]))
            for item_id, notes, lyrics, group in drawn:
                fields = write_item(root, item_id, notes, lyrics, staff=14)
                row: dict[str, Any] = {"id": item_id, "song": song, "split": split, "group": group}
                row.update({m: fields[m] for m in modalities})
                onsets = np.concatenate([[0.0], np.cumsum([d for _, d in notes])[:-1]])
                row["notes"] = [[p, round(float(o), 4), d] for (p, d), o in zip(notes, onsets)]
                rows.append(row)
    return write_manifest(root, rows, "eval-test-songs")


# -- single files --------------------------------------------------------------------------
def write_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = SR, seed: int = 0) -> Path:
    """A tone with a little noise and a slow tremolo, so windows differ from each other."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.13 * t)) + 0.02 * rng.standard_normal(
        t.size
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_png(path: Path, width: int, seed: int = 0) -> Path:
    """A 24-row white image with a small black dash every 7 columns at random heights."""
    rng = np.random.default_rng(seed)
    img = np.full((24, width), 255, np.uint8)
    for x in range(2, width - 4, 7):
        y = int(rng.integers(2, 20))
        img[y : y + 2, x : x + 4] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD_FILES = {
    "audio": ["songs/a.wav", "songs/b.wav", "songs/deep/c.wav", "long/d.wav"],
    "sheet": ["scores/a.png", "scores/b.png"],
    "lyrics": ["words/a.txt", "words/b.txt"],
}
"""The good files of `write_embed_folder` by modality (paths relative to the folder)."""
BAD_FILES = {
    "songs/broken.wav": "not a readable audio file",
    "words/empty.txt": "no lyrics",
    "scores/notanimage.png": "cannot read image",
    "songs/outside.wav": "outside the input",
    "escape": "outside the input",
}
"""The bad entries of `write_embed_folder` and a word of the reason each must be given."""


def write_embed_folder(root: Path, outside: Path) -> Path:
    """Good audio (8 and 16 kHz), images and lyrics; a corrupt WAV, an empty text, a PNG that
    is not an image, symbolic links to a file and a folder in `outside`, a link to a folder
    inside, hidden files, an unrelated file. Returns `root`."""
    write_wav(root / "songs/a.wav", 2.0, 330, seed=1)
    write_wav(root / "songs/b.wav", 4.0, 550, seed=2)
    write_wav(root / "songs/deep/c.wav", 3.0, 220, seed=3, rate=16000)
    write_wav(root / "long/d.wav", 12.0, 440, seed=4)
    write_png(root / "scores/a.png", 80, seed=1)
    write_png(root / "scores/b.png", 140, seed=2)
    write_text(root / "words/a.txt", "Twinkle, twinkle, little star\nHow I wonder what you are\n")
    write_text(root / "words/b.txt", "Amazing grace, how sweet the sound\n")
    (root / "songs/broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    write_text(root / "words/empty.txt", "")
    write_text(root / "scores/notanimage.png", "this is not a PNG")
    write_wav(outside / "secret.wav", 2.0, 880, seed=9)
    write_wav(outside / "folder/more.wav", 2.0, 990, seed=9)
    os.symlink(outside / "secret.wav", root / "songs/outside.wav")
    os.symlink(outside / "folder", root / "escape")
    os.symlink(root / "songs/deep", root / "inside-link")  # a folder inside: not walked twice
    write_wav(root / ".hidden/x.wav", 1.0)
    write_wav(root / "songs/.y.wav", 1.0)
    write_text(root / "README.md", "not embedded")
    return root
