"""Size and speed of the audio and sheet encoders (`audio/cnn`, `sheet/cnn`, `audio/hf`) on one
CPU thread.

    .venv/bin/python benchmarks/encoders.py                    # 5-s clips, 400-px snippets, batch 32
    .venv/bin/python benchmarks/encoders.py --items 256 --hf-model PATH --skip-hf

Items are synthetic but realistic: 5-second melodies (additive tones, 22.05 kHz) and notation
snippets drawn at 112 px high (staff lines and noteheads as on an engraved line, the height
verovio's rendering has before cropping) and 700 px wide, which `featurize` resizes to 64 x 400.
`audio/hf` runs a randomly initialised wav2vec 2.0 base (95 M parameters, the size of
wav2vec2-base, HuBERT-base and MERT-95M) saved to a temporary folder unless `--hf-model`
names a local one. Prints parameter counts (trainable / total), featurize throughput (items/s,
one item at a time, from the raw waveform/image) and forward throughput (items/s at `--batch`,
eval without gradients; and train forward+backward). A frozen `audio/hf` runs its model in
`featurize` (the trainer caches the pooled states), so its forward is the head alone. A
fine-tuned one is trained at `--hf-train-batch` (default 4): forward+backward of a base-size
model on 32 five-second clips keeps over 16 GB of activations. Not a test: timings depend on the
machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ugaar_kit.interfaces.encoder import Encoder


def melody(seconds: float, rate: int, rng: np.random.Generator) -> torch.Tensor:
    """A random melody of eighth and quarter notes, 3 harmonics each: `(seconds * rate,)`."""
    n = int(seconds * rate)
    out = np.zeros(n)
    t0 = 0
    while t0 < n:
        length = int(rng.choice([0.25, 0.5]) * rate)
        f0 = 440.0 * 2 ** ((int(rng.integers(57, 81)) - 69) / 12)
        t = np.arange(min(length, n - t0)) / rate
        out[t0 : t0 + len(t)] = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3)) * np.exp(-3 * t) * 0.2
        t0 += length
    return torch.from_numpy(out.astype(np.float32))


def snippet(width: int, rng: np.random.Generator, height: int = 64) -> torch.Tensor:
    """Greyscale `(height, width)` in [0, 1] (1 = paper): five staff lines and a notehead with a stem every two staff spaces."""
    img = np.ones((height, width), dtype=np.float32)
    top, gap = height // 4, height // 8
    for k in range(5):
        img[top + k * gap, :] = 0.0
    head, stem = max(2, gap // 2), 3 * height // 8
    for x in rng.integers(10, width - 10, size=width // (2 * gap)):
        y = int(rng.integers(top - gap, top + 5 * gap))
        img[max(0, y - head) : y + head, x - head - 1 : x + head + 1] = 0.0
        img[max(0, y - stem) : y, x + head] = 0.0
    return torch.from_numpy(img)


def rate(fn: Callable[[], object], count: int, min_seconds: float = 2.0) -> float:
    """Items per second of `fn` (which handles `count` items), repeated for at least `min_seconds`."""
    fn()  # warm-up
    done, start = 0, time.perf_counter()
    while True:
        fn()
        done += count
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def measure(
    label: str, enc: Encoder, raws: list, batch: int, feat_items: int | None = None, train_batch: int | None = None
) -> list[str]:
    total = sum(p.numel() for p in enc.parameters())
    trainable = sum(p.numel() for p in enc.trainable_parameters())
    some = raws[: feat_items or len(raws)]
    feat_rate = rate(lambda: [enc.featurize(r) for r in some], len(some))
    feats = [enc.featurize(r) for r in raws[:batch]]
    b = enc.collate(feats)
    enc.eval()

    def infer() -> None:
        with torch.no_grad():
            enc(b)

    fwd = rate(infer, len(feats))
    enc.train()
    params = enc.trainable_parameters()
    tb = enc.collate(feats[: train_batch or batch])

    def step() -> None:
        enc.zero_grad(set_to_none=True)
        enc(tb).pow(2).mean().backward()

    train = rate(step, len(tb)) if params else float("nan")
    shape = "x".join(str(s) for s in feats[0].shape)
    train_text = f"{train:,.1f}" + (f" (batch {train_batch})" if train_batch else "")
    return [label, f"{trainable:,} / {total:,}", shape, f"{feat_rate:,.0f}", f"{fwd:,.1f}", train_text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64, help="items featurized per round")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--hf-model", type=Path, default=None, help="local Hugging Face audio model folder")
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--hf-train-batch", type=int, default=4, help="batch of the fine-tuned hf training step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
    from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

    rows = []
    audio = AudioCNN()
    clips = [melody(args.seconds, audio.sample_rate, rng) for _ in range(args.items)]
    rows.append(measure("audio/cnn", audio, clips, args.batch))
    images = [snippet(round(args.width * 112 / 64), rng, height=112) for _ in range(args.items)]
    rows.append(measure("sheet/cnn", SheetCNN(), images, args.batch))
    if not args.skip_hf:
        from ugaar_kit_plugins.audio_hf.encoder import HFAudio

        with tempfile.TemporaryDirectory() as tmp:
            folder = args.hf_model
            if folder is None:
                from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

                folder = Path(tmp)
                config = Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True)
                Wav2Vec2Model(config).save_pretrained(folder)
                Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True).save_pretrained(folder)
            clips16 = [melody(args.seconds, 16000, rng) for _ in range(args.batch)]
            hf = HFAudio.from_options({"model": str(folder)})
            rows.append(measure("audio/hf (frozen)", hf, clips16, args.batch, feat_items=4))
            tuned = HFAudio.from_options({"model": str(folder), "freeze": "false"})
            rows.append(measure("audio/hf (fine-tuned)", tuned, clips16, args.batch, train_batch=args.hf_train_batch))

    table = Table(title=f"encoders, one thread: {args.seconds:g}-s clips, {args.width}-px snippets, batch {args.batch}")
    for col in (
        "encoder",
        "parameters (trainable / total)",
        "features",
        "featurize items/s",
        "forward items/s",
        "train f+b items/s",
    ):
        table.add_column(col, justify="left" if col in ("encoder", "features") else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
