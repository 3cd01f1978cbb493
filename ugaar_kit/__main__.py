"""`python -m ugaar_kit` runs the CLI."""

from .cli.app import main

main()
