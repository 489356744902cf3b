# Production: a regional database with a standby and a replicated cache.
environment = "production"
domain      = "releases.example.com"

database_tier              = "db-custom-2-7680"
database_high_availability = true
database_max_connections   = 200
redis_tier                 = "STANDARD_HA"

functions = {
  auth     = { memory = "512Mi", cpu = "1", timeout_seconds = 30, min_instances = 1, max_instances = 6, concurrency = 8, db_max_overflow = 2 }
  releases = { memory = "512Mi", cpu = "1", timeout_seconds = 60, min_instances = 1, max_instances = 8, concurrency = 8, db_max_overflow = 2 }
  health   = { memory = "256Mi", cpu = "1", timeout_seconds = 10, min_instances = 0, max_instances = 2, concurrency = 4, db_max_overflow = 2 }
  console  = { memory = "512Mi", cpu = "1", timeout_seconds = 30, min_instances = 0, max_instances = 3, concurrency = 8, db_max_overflow = 2 }
}
