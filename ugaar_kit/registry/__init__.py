"""Plugins and the components they register: the hook specifications (`hookspecs`), loading
every entry point of the group `ugaar_kit` (`discovery.get_registry`), and the registry keyed by
(kind, modality, name) that stages ask for a component (`components.Registry`)."""

from ugaar_kit.registry.components import Component, Registry

__all__ = ["Component", "Registry"]
