"""``python -m jaxnn``: the ``jaxnn`` command (see :mod:`jaxnn.cli`)."""

from jaxnn.cli import main

if __name__ == "__main__":
    main()
