"""Training a run: the loop (`trainer`), its setup (`prepare`, `assemble`), the budget and
learning-rate schedule (`budget`, `schedule`), model selection and early stopping
(`selection`), batches (`loader`) and curves (`curves`). What it writes is the run-folder format
of `ugaar_kit.runfolder`; nothing outside `cli`, `recipes` and `testing` imports this package."""
