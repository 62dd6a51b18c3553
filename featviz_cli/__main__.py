import sys

from featviz_cli import main

sys.exit(main())
