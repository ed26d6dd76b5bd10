"""`python cli.py ...` from a checkout is the same as `dsp-rnn ...`."""

import sys

from dsp_rnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
