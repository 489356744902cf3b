# Staging: the smallest footprint that still runs the production code paths.
environment = "staging"
domain      = "releases.staging.example.com"

database_tier              = "db-custom-1-3840"
database_high_availability = false
database_max_connections   = 100
redis_tier                 = "BASIC"
