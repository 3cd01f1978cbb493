"""Test helpers for ugaar-kit's own tests and for plugin authors.

Conformance checks that any encoder or objective plugin can run in its own tests:

    from ugaar_kit.testing import check_encoder, check_objective

    def test_my_encoder_conforms(tmp_path):
        check_encoder(lambda: MyEncoder(MyEncoder.Options()), raw_items)

Each check raises AssertionError with a message saying what broke.

The shared kit the test suite is built on, in submodules (none needs pytest):

- `ugaar_kit.testing.parts`: small real encoders and objectives, and `registry()` of them;
- `ugaar_kit.testing.data`: dataset folders (tiny melodies, songs of passages) and media files;
- `ugaar_kit.testing.runs`: `write_run`, a run folder of seeded untrained parts;
- `ugaar_kit.testing.store_cli`: the `embed`/`search`/`store` app over the parts, also a program;
- `ugaar_kit.testing.tiny_models`: tiny Hugging Face models saved to a folder.
"""

from ugaar_kit.testing.conformance import check_encoder, check_objective

__all__ = ["check_encoder", "check_objective"]
