"""``python -m neuronviz`` runs the same CLI as the ``neuronviz`` command."""

import sys

from neuronviz.cli import main

sys.exit(main())
