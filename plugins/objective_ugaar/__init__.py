"""Built-in plugin `objective-ugaar` (being implemented)."""
