"""The HDF5 embedding store: crash-safe writing, reading, merging and indexing."""
