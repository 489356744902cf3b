"""The package the three functions share: settings, database, cache, security and services."""

from shared.platform.startup import import_redis

import_redis()
