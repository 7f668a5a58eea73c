"""``python -m relengotron``: the command line, as the ``relengotron`` script."""

import sys

from relengotron.adapters.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
