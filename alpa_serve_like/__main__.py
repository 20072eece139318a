import sys

from alpa_serve_like.cli.main import main

sys.exit(main())
