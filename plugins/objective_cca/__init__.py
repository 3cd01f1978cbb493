"""Built-in plugin `objective-cca` (being implemented)."""
