"""``python -m recon.apply RUN_DIR --to ...``: the same as ``recon apply``."""

import sys

from recon.apply.cli import main_apply

sys.exit(main_apply())
