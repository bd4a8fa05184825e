"""`python -m kiosk` is the same as the `iiq-kiosk` command."""

import sys

from kiosk.launch import main

sys.exit(main())
