import sys

from belegtool import main

sys.exit(main())
