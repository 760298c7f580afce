"""``python -m recon.sample OUT_DIR [CONTACTS [ACCOUNTS [SEED]]]``: regenerate a sample folder."""

import sys

from recon.sample import generate


def main(argv: list[str]) -> int:
    """Write the sample and print where it went."""
    if not argv or len(argv) > 4:
        print(__doc__, file=sys.stderr)
        return 2
    sizes = [int(a) for a in argv[1:]]
    contacts = sizes[0] if sizes else 2000
    accounts = sizes[1] if len(sizes) > 1 else None
    seed = sizes[2] if len(sizes) > 2 else 0
    print(generate(argv[0], contacts, accounts, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
