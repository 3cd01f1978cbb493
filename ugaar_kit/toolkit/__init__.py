"""Helpers for plugin authors, which the built-in plugins use as any other plugin would: network
layers (`layers`), fixed front ends (`frontends`: log-mel, ink), feature augmentation
(`augment`), pretrained bodies and Hugging Face model folders (`pretrained`, `model_folder`),
onset counting (`onsets`), and the losses and math objectives share (`infonce`, `cca`,
`deep_cca`). Nothing of the core's pipelines imports them."""
