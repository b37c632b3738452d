"""`python -m sr_kernels ...` is the `sr-kernels` command."""

import sys

from sr_kernels.cli.main import main

sys.exit(main())
