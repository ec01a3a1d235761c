"""``python -m neuronviz`` runs the same CLI as the ``neuronviz`` command."""

import sys

from neuronviz.cli.main import main

sys.exit(main())
