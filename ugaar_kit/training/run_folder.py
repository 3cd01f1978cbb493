"""Moved to `ugaar_kit.runfolder.files` (the run-folder format, which reading a run needs without
the trainer); this path is the same module and keeps working."""

import sys

from ugaar_kit.runfolder import files as _moved

sys.modules[__name__] = _moved
