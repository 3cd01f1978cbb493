"""Conformance checks that any encoder or objective plugin can run in its own tests.

    from ugaar_kit.testing import check_encoder, check_objective

    def test_my_encoder_conforms(tmp_path):
        check_encoder(lambda: MyEncoder(MyEncoder.Options()), raw_items)

Each check raises AssertionError with a message saying what broke.
"""

from .conformance import check_encoder, check_objective

__all__ = ["check_encoder", "check_objective"]
