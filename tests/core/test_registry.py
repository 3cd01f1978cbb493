import pytest

from ugaar_kit.errors import PluginError
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.registry.components import Registry


class AudioCnn(Encoder):
    name = "cnn"
    modality = "audio"


class SheetCnn(Encoder):
    name = "cnn"
    modality = "sheet"


class Obj(Objective):
    name = "obj"


def test_same_name_in_two_modalities_is_two_components():
    reg = Registry()
    reg.add(AudioCnn, "a")
    reg.add(SheetCnn, "a")
    assert reg.encoder("audio", "cnn") is AudioCnn
    assert reg.encoder("sheet", "cnn") is SheetCnn
    assert len(reg) == 2


def test_duplicate_names_both_owners():
    reg = Registry()
    reg.add(AudioCnn, "dist-one", plugin="p1")

    class Other(Encoder):
        name = "cnn"
        modality = "audio"

    with pytest.raises(PluginError, match=r"registered twice: by dist-one \(p1\) and by dist-two \(p2\)"):
        reg.add(Other, "dist-two", plugin="p2")
    assert reg.encoder("audio", "cnn") is AudioCnn


def test_unknown_name_lists_known():
    reg = Registry()
    reg.add(AudioCnn, "a")
    with pytest.raises(PluginError, match=r"unknown audio encoder 'vgg' \(known: cnn\)"):
        reg.encoder("audio", "vgg")
    with pytest.raises(PluginError, match=r"unknown objective 'ugaar' \(known: none installed\)"):
        reg.objective("ugaar")


def test_refuses_instances_and_foreign_classes():
    reg = Registry()
    with pytest.raises(PluginError, match="register classes, not instances"):
        reg.add(Obj.__new__(Obj), "a")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="is not an Encoder"):
        reg.add(dict, "a")


def test_encoder_without_modality_refused():
    class NoModality(Encoder):
        name = "x"

    with pytest.raises(PluginError, match="has no 'modality'"):
        Registry().add(NoModality, "a")


def test_a_deferred_kind_is_filled_once_when_first_asked_for():
    from ugaar_kit.registry.components import Registry
    from ugaar_kit.testing import parts

    reg = Registry()
    calls = []

    def fill() -> None:
        calls.append(1)
        reg.add(parts.TinyAudio, "test", "1.0", "tests")

    reg.defer("encoder", fill)
    assert reg.names("dataset") == [] and calls == []  # another kind: nothing loaded
    assert reg.names("encoder", "audio") == ["tiny"] and calls == [1]
    assert reg.get("encoder", "tiny", "audio").cls is parts.TinyAudio and calls == [1]
    seen = []
    reg.on_problem = seen.append
    reg.add_problem("plugin 'x' from y: broken; skipped")
    assert seen == reg.problems == ["plugin 'x' from y: broken; skipped"]
