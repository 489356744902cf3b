"""The one pattern for names in URLs and records: applications and environments are lowercase slugs."""

# A lowercase name such as `checkout` or `eu-production`: at most 63 characters, a letter or digit first.
SLUG = r"[a-z0-9][a-z0-9-]{0,62}"
SLUG_PATTERN = rf"^{SLUG}$"
