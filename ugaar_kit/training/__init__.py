"""Training: the trainer, run folders, checkpoints and the feature cache."""
