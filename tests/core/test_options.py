from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.options import option


@dataclass(frozen=True)
class Opts:
    n_mels: int = option(80, "Mel bands.", min=8, max=256)
    rate: float = option(0.5, "A rate.")
    freeze: bool = option(False, "Freeze the body.")
    weights: Path | None = option(None, "Weights file.")
    pooling: Literal["mean", "max"] = option("mean", "Pooling.")
    name: str = option("x", "A name.")


def test_strings_are_coerced_to_field_types():
    o = opts.build(Opts, {"n_mels": "128", "rate": "1e-3", "freeze": "true", "weights": "w.pt", "pooling": "max"})
    assert o == Opts(n_mels=128, rate=1e-3, freeze=True, weights=Path("w.pt"), pooling="max")


def test_toml_values_are_accepted_as_they_are():
    assert opts.build(Opts, {"n_mels": 64, "freeze": False}).n_mels == 64


def test_round_trip_through_to_dict():
    o = Opts(weights=Path("a/b.pt"), pooling="max")
    assert opts.build(Opts, opts.to_dict(o)) == o


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"n_mel": "1"}, "unknown option 'audio.n_mel' (known: n_mels, rate, freeze, weights, pooling, name)"),
        ({"n_mels": "many"}, "option 'audio.n_mels': 'many' is not an integer"),
        ({"n_mels": "4"}, "option 'audio.n_mels': 4 is below the minimum 8"),
        ({"freeze": "perhaps"}, "option 'audio.freeze': 'perhaps' is not a boolean"),
        ({"pooling": "sum"}, "option 'audio.pooling': 'sum' is not one of 'mean', 'max'"),
    ],
)
def test_bad_values_name_the_key(values, message):
    with pytest.raises(OptionError) as err:
        opts.build(Opts, values, prefix="audio")
    assert message in str(err.value)


def test_none_for_optional():
    assert opts.build(Opts, {"weights": "none"}).weights is None


def test_parse_overrides():
    got = opts.parse_overrides(["audio.n_mels=128", "objective.temperature=0.05", "audio.freeze=true"])
    assert got == {"audio": {"n_mels": "128", "freeze": "true"}, "objective": {"temperature": "0.05"}}


@pytest.mark.parametrize(
    ("pair", "message"), [("n_mels=1", "expected SLOT.key=value"), ("video.fps=2", "unknown slot 'video'")]
)
def test_parse_overrides_refuses(pair, message):
    with pytest.raises(OptionError, match=message):
        opts.parse_overrides([pair])


def test_describe_lists_types_defaults_help():
    info = {o.name: o for o in opts.describe(Opts)}
    assert info["n_mels"].type == "int" and info["n_mels"].default == 80 and info["n_mels"].help == "Mel bands."
    assert info["weights"].type == "Path | None"
    assert info["pooling"].type == "'mean' | 'max'"


def test_every_float_option_of_every_component_refuses_non_finite_values():
    """`-o objective.temperature=nan` and the like: NaN passes every range check, so it is
    refused by name before anything runs, for every float option of every built-in component."""
    from ugaar_kit.errors import OptionError
    from ugaar_kit.interfaces.options import build, describe
    from ugaar_kit.registry.discovery import get_registry

    checked = []
    for component in get_registry():
        for info in describe(component.options_class):
            if "float" not in info.type:
                continue
            for value in ("nan", "inf", "-inf"):
                with pytest.raises(OptionError, match="finite"):
                    build(component.options_class, {info.name: value}, prefix=component.kind)
            checked.append(f"{component.label}.{info.name}")
    assert len(checked) >= 20 and "contrastive.temperature" in checked, checked
