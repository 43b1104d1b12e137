"""``python -m executor …`` runs the ``lmnet`` command (:mod:`executor.cli`) without installing it."""
from executor.cli import main

main(prog_name="lmnet")
