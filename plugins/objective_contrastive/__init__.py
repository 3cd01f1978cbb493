"""Built-in plugin `objective-contrastive` (being implemented)."""
