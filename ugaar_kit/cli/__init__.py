"""The `ugaar-kit` command line: one module per command group, joined in `app.py`."""
