"""Built-in plugin `baseline-counts`: the rankings without a model that `eval` reports beside a
run with lyrics: `syllable_count` (lyrics against audio and sheet by `|notes - syllables|`, from
the manifest's note counts) and `onset_count` (lyrics against audio by `|onsets - syllables|`,
the onsets counted in the recordings)."""

from ugaar_kit import hookimpl


@hookimpl
def register_baselines(register):  # noqa: ANN001, ANN201 - pluggy hook
    from .counts import OnsetCount, SyllableCount

    register(SyllableCount)
    register(OnsetCount)
