"""From an item's input to encoder outputs, for train, eval, embed and search alike: read or take
it raw and featurize it (`encode.featurize_one`), featurize many in worker processes
(`pool`), keep training features on disk (`cache`), and run the encoder in eval mode over
length-sorted batches (`encode.encode_batches`)."""
