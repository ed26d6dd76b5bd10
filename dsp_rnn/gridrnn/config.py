"""The GridRNN configuration: one dataclass, mapped from CLI flags, stored as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError

__all__ = ["GridRNNConfig", "MODEL_KINDS"]

MODEL_KINDS = ("biaxial", "time")


@dataclass
class GridRNNConfig:
    """Sizes and data conventions of a :class:`~dsp_rnn.gridrnn.GridRNN`.

    Attributes:
        kind: ``"biaxial"`` (time LSTM shared across pitches, then a pitch LSTM shared
            across time that sees the notes already decided below) or ``"time"`` (the
            time-only baseline: independent Bernoullis per note given the past).
        n_pitches: keys on the grid (default 88, the piano).
        low_pitch: MIDI pitch of key 0 (default 21, A0).
        steps_per_quarter: grid resolution the model was trained at (1 = quarter notes).
        beat_period: steps per bar for the beat-position feature (default 4 bars of 4/4
            at quarter notes; use 16 at sixteenth notes).
        neighbourhood: semitones either side of a note seen at the previous step (default 12).
        time_hidden, time_layers: the time-axis LSTM (shared across pitches).
        pitch_hidden, pitch_layers: the pitch-axis LSTM (shared across time; biaxial only).
        dropout: between LSTM layers (0 = none).
        articulation: model onsets too, ``P(onset | play)``. False for data with no
            articulation (JSB): onsets are then ``play and not played the step before`` and
            the likelihood counts the play plane only.
        tempo_bpm: default tempo of generated music.
        output_transpose: semitones between the data's encoding and the register music is
            written in for a user: ``generate`` writes key ``k`` (MIDI ``low_pitch + k``) as
            MIDI ``low_pitch + k + output_transpose``, and reads a primer's MIDI pitches the
            other way. 0 for models trained on MIDI files; -12 for the JSB Chorales, whose
            JSON encodes the chorales about an octave above their written pitch (a whole
            octave keeps the pieces' keys). Likelihoods and the sample statistics are
            always in the data's encoding.
        register_features: add absolute-register inputs to the time features (lowest,
            highest and mean key sounding at the step before, a silent-step flag, the
            note's distance to the lowest and highest key). Off by default; models saved
            without the key load unchanged.

    Example:
        >>> cfg = GridRNNConfig(time_hidden=32)
        >>> GridRNNConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    kind: str = "biaxial"
    n_pitches: int = 88
    low_pitch: int = 21
    steps_per_quarter: int = 1
    beat_period: int = 4
    neighbourhood: int = 12
    time_hidden: int = 96
    time_layers: int = 2
    pitch_hidden: int = 48
    pitch_layers: int = 2
    dropout: float = 0.0
    articulation: bool = False
    tempo_bpm: float = 90.0
    output_transpose: int = 0
    register_features: bool = False

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise InputError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        for name in ("n_pitches", "steps_per_quarter", "beat_period", "time_hidden",
                     "time_layers", "pitch_hidden", "pitch_layers"):  # fmt: skip
            # numpy integers are stored as Python ints (the config is written as JSON)
            setattr(self, name, check_int(getattr(self, name), name, minimum=1))
        self.neighbourhood = check_int(self.neighbourhood, "neighbourhood", minimum=0, maximum=48)
        self.low_pitch = check_int(self.low_pitch, "low_pitch", minimum=0, maximum=127)
        self.output_transpose = check_int(
            self.output_transpose, "output_transpose", minimum=-127, maximum=127
        )
        if not (0 <= self.low_pitch and self.low_pitch + self.n_pitches <= 128):
            raise InputError(
                f"pitch range {self.low_pitch}..{self.low_pitch + self.n_pitches - 1} "
                "is outside MIDI 0..127"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InputError(f"dropout: expected 0 <= dropout < 1, got {self.dropout!r}")
        low = self.low_pitch + self.output_transpose
        if not (0 <= low and low + self.n_pitches <= 128):
            raise InputError(
                f"output_transpose: expected whole semitones keeping the written keys inside "
                f"MIDI 0..127, got {self.output_transpose!r}"
            )
        if not isinstance(self.register_features, bool):
            raise InputError(
                f"register_features: expected true or false, got {self.register_features!r}"
            )
        if not float(self.tempo_bpm) > 0:
            raise InputError(f"tempo_bpm: expected > 0, got {self.tempo_bpm!r}")

    @property
    def written_low_pitch(self) -> int:
        """MIDI pitch that key 0 is written as for a user (``low_pitch + output_transpose``)."""
        return self.low_pitch + self.output_transpose

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GridRNNConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"GridRNNConfig: unknown keys {unknown}")
        return cls(**data)
