"""dsp_rnn: filters and recurrent networks for audio and music."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dsp-rnn")
except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
    __version__ = "0+unknown"
