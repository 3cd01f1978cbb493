"""Built-in plugin `objective-dcca` (being implemented)."""
