"""What every stage leans on and no plugin needs to know: atomic file writes (`atomic`),
progress bars (`progress`), the `UGAAR_KIT_` environment variables (`envvars`), and devices and
process groups for runs under `torchrun` (`distributed`). Imports nothing else of ugaar-kit but
`ugaar_kit.errors`."""
