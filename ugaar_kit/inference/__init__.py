"""Using a trained run: `Run` loads a run folder (through `ugaar_kit.runfolder`, never the
trainer) and embeds items; `embedding` embeds files and folders into a store, and queries."""
