"""Ranking in the shared space: retrieval metrics beside chance (`metrics`), evaluation of a run
on a dataset split with baselines and the ceiling (`evaluation`), and search of a store
(`search`)."""
