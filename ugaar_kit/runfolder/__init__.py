"""The format of a run folder: what `ugaar_kit.training` writes and `ugaar_kit.inference.run.Run`,
`eval`, `embed` and `search` read, so reading a run needs nothing of the trainer.

- `files`: the folder's file names, `run.json` and `metrics.jsonl` (reading, atomic writing);
- `config`: `config.toml`, the run's settings and components (`RunConfig`);
- `checkpoint`: `model.pt`, `best.pt`, `last.pt` (plain tensors, loaded `weights_only`).
"""
