"""Moved to `ugaar_kit.runfolder.config` (the run-folder format, which reading a run needs without
the trainer); this path is the same module and keeps working."""

import sys

from ugaar_kit.runfolder import config as _moved

sys.modules[__name__] = _moved
