"""`relman` and `python -m relman`."""

from relman.app import main

if __name__ == "__main__":
    main()
