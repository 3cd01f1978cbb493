"""`python -m ugaar_kit` runs the CLI."""

from ugaar_kit.cli.app import main

main()
