"""``python -m dsp_rnn.cli ...`` is the same as ``dsp-rnn ...``."""

import sys

from dsp_rnn.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
