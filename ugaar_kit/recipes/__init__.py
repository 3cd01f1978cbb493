"""Whole jobs written down as data: `demo` follows a recipe file (`demo.toml`, the default) from
building a dataset to searching a store."""
