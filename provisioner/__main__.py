"""`python -m provisioner` runs the `mtasts` command line."""

from provisioner.cli import main

main()
