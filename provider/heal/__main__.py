"""``python -m provider.heal``: the same as the ``photon-heal`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
