"""Checkpoints load with weights_only: a pickled object is refused with a message that names it
and gives no advice to load it anyway."""

from __future__ import annotations

import pytest
import torch

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.state import load_safe, save_atomic

RAN: list[str] = []


def _payload(text: str) -> None:
    RAN.append(text)


class Payload:
    def __reduce__(self):
        return (_payload, ("the payload ran",))


def test_a_pickled_object_is_refused_by_name_without_torch_advice(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(2), "x": Payload()}, path)
    with pytest.raises(InputError) as info:
        load_safe(path)
    message = str(info.value)
    assert str(path) in message and "test_state._payload" in message
    assert "weights_only=False" not in message and "trust" not in message
    assert len(message.splitlines()) == 1 and not RAN


def test_tensors_and_plain_values_round_trip(tmp_path):
    state = {"w": torch.arange(3.0), "n": 3, "name": "cnn", "nested": {"x": [1, 2.5]}}
    save_atomic(state, tmp_path / "ok.pt")
    back = load_safe(tmp_path / "ok.pt")
    assert torch.equal(back["w"], state["w"]) and back["nested"] == state["nested"]


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\\xff\\xfe not a zip")
    with pytest.raises(InputError, match="not a readable ugaar-kit checkpoint") as info:
        load_safe(path)
    assert str(path) in str(info.value) and len(str(info.value).splitlines()) == 1
