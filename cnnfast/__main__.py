"""`python -m cnnfast ...` runs the cnnfast command line."""

import sys

from cnnfast.cli import main

sys.exit(main())
