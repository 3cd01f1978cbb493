"""Writing aligned items as a dataset folder: moved to the core, `ugaar_kit.build.items`, so
`ugaar-kit dataset build` writes any item source's items; this path keeps working."""

from ugaar_kit.build.items import FORMAT, FORMAT_VERSION, assign_splits, write_dataset_folder

__all__ = ["FORMAT", "FORMAT_VERSION", "assign_splits", "write_dataset_folder"]
