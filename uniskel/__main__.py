"""``python -m uniskel ...``: the same as the installed ``uniskel`` command."""
import sys

from uniskel.commands import console_main

sys.exit(console_main())
