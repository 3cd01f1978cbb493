"""The built-in plugins of ugaar-kit, installed under the import name `ugaar_kit_plugins`.

Each subpackage is a plugin module registered through the `ugaar_kit` entry-point group in
pyproject.toml, exactly as a third-party package registers its own.
"""
