"""The auth function's routes, one table per concept; `functions/auth/main.py` serves them."""
