"""What every concept stands on: settings and secrets, the database and its connections, the cache,
logs, time, and what each instance does once at start-up."""
