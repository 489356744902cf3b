# -- where ------------------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "Google Cloud project id to deploy into (one project per environment is recommended)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lowercase letters, digits, hyphens), not a name or number."
  }
}

variable "region" {
  type        = string
  description = "Region for the functions, Cloud SQL, Memorystore, the serverless NEGs and the Cloud Build pool."
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a region such as europe-west1, not a zone such as europe-west1-b."
  }
}

variable "environment" {
  type        = string
  description = "Deployment stage; becomes the app's ENVIRONMENT setting and part of every resource name."

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production (development and test are for local runs only)."
  }
}

variable "domain" {
  type        = string
  description = "Host name the load balancer serves, e.g. releases.example.com; its DNS A record must point at the load_balancer_ip output."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain))
    error_message = "domain must be a lowercase host name without scheme, port or path (releases.example.com)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Extra labels for every resource (app, environment and managed-by are always set)."
  default     = {}
}

# -- the application ---------------------------------------------------------------------------------

variable "app_version" {
  type        = string
  description = "Version reported by /health (APP_VERSION); the pipeline passes the commit or tag."
  default     = "0.1.0"
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL of the functions."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "cors_origins" {
  type        = list(string)
  description = "Origins allowed to call the API from a browser (CORS_ORIGINS), e.g. [\"https://console.example.com\"]."
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_origins : can(regex("^https?://[^/]+$", origin))])
    error_message = "Each CORS origin is scheme://host[:port] with no path or trailing slash."
  }
}

variable "registration_open" {
  type        = bool
  description = "Whether POST /auth/register accepts new accounts (REGISTRATION_OPEN). Closed: admins create accounts."
  default     = false
}

variable "jwt_key_version" {
  type        = number
  description = "Bump to generate a new JWT signing key (every session then ends); the key never enters the state."
  default     = 1
}

variable "dist_dir" {
  type        = string
  description = "Folder holding the packages and manifest.json that `make package` builds."
  default     = "../dist"
}

variable "deployer_service_account" {
  type        = string
  description = "Email of the service account Cloud Build runs the pipeline as (docs/deploy.md, the bootstrap); it runs the migrations as an IAM database user and signs the smoke test in with its own ID token (keyless)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$", var.deployer_service_account))
    error_message = "deployer_service_account must be a user-managed service account email (NAME@PROJECT.iam.gserviceaccount.com)."
  }
}

# -- the functions -----------------------------------------------------------------------------------

variable "functions" {
  type = map(object({
    memory          = string
    cpu             = string
    timeout_seconds = number
    min_instances   = number
    max_instances   = number
    concurrency     = number
    db_max_overflow = number
  }))
  description = "Sizing of each Cloud Function, keyed by its folder under functions/. Each instance runs one process with `concurrency` threads and a database pool of `concurrency` + `db_max_overflow` connections at most."
  default = {
    auth     = { memory = "512Mi", cpu = "1", timeout_seconds = 30, min_instances = 0, max_instances = 3, concurrency = 8, db_max_overflow = 2 }
    releases = { memory = "512Mi", cpu = "1", timeout_seconds = 60, min_instances = 0, max_instances = 4, concurrency = 8, db_max_overflow = 2 }
    health   = { memory = "256Mi", cpu = "1", timeout_seconds = 10, min_instances = 0, max_instances = 2, concurrency = 4, db_max_overflow = 2 }
    console  = { memory = "512Mi", cpu = "1", timeout_seconds = 30, min_instances = 0, max_instances = 2, concurrency = 4, db_max_overflow = 0 }
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : can(regex("^[0-9]+(Mi|Gi)$", f.memory))])
    error_message = "memory is a quantity such as 256Mi or 1Gi."
  }
  validation {
    # Gen2 only runs more than one request per instance with at least one whole CPU.
    condition     = alltrue([for f in values(var.functions) : f.concurrency >= 1 && f.concurrency <= 50 && (f.concurrency == 1 || tonumber(f.cpu) >= 1)])
    error_message = "concurrency is 1..50 (the pool size may not exceed 50), and above 1 needs cpu >= 1."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.min_instances >= 0 && f.max_instances >= 1 && f.min_instances <= f.max_instances])
    error_message = "max_instances must be at least 1 and at least min_instances."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds >= 5 && f.timeout_seconds <= 3600])
    error_message = "timeout_seconds is 5..3600 for HTTP functions (the statement timeout is 15 s)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.db_max_overflow >= 0 && f.db_max_overflow <= 50])
    error_message = "db_max_overflow is 0..50 (DB_MAX_OVERFLOW)."
  }
}

# -- network -----------------------------------------------------------------------------------------

variable "subnet_cidr" {
  type        = string
  description = "Range of the subnet the functions egress from (Direct VPC egress takes about two addresses per instance)."
  default     = "10.10.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && tonumber(split("/", var.subnet_cidr)[1]) <= 26
    error_message = "subnet_cidr must be an IPv4 CIDR block of /26 or larger."
  }
}

variable "private_services_prefix_length" {
  type        = number
  description = "Size of the range reserved for private services access (Cloud SQL, Memorystore, the Cloud Build pool)."
  default     = 20

  validation {
    condition     = var.private_services_prefix_length >= 16 && var.private_services_prefix_length <= 22
    error_message = "private_services_prefix_length is 16..22: Cloud SQL, Memorystore and Cloud Build each carve ranges from it."
  }
}

# -- database ----------------------------------------------------------------------------------------

variable "database_tier" {
  type        = string
  description = "Cloud SQL machine type (Enterprise edition), e.g. db-custom-1-3840 or db-custom-2-7680."
  default     = "db-custom-1-3840"

  validation {
    condition     = can(regex("^db-(custom-[0-9]+-[0-9]+|perf-optimized-N-[0-9]+)$", var.database_tier))
    error_message = "database_tier must be a dedicated-core tier (db-custom-CPUS-MB); shared-core tiers have no SLA."
  }
}

variable "database_edition" {
  type        = string
  description = "Cloud SQL edition (PostgreSQL 16 and later default to Enterprise Plus when unset)."
  default     = "ENTERPRISE"

  validation {
    condition     = contains(["ENTERPRISE", "ENTERPRISE_PLUS"], var.database_edition)
    error_message = "database_edition must be ENTERPRISE or ENTERPRISE_PLUS."
  }
}

variable "database_high_availability" {
  type        = bool
  description = "REGIONAL availability (a standby in another zone, automatic failover): set it for production."
  default     = false
}

variable "database_disk_size_gb" {
  type        = number
  description = "Initial SSD size; it grows automatically."
  default     = 10

  validation {
    condition     = var.database_disk_size_gb >= 10
    error_message = "database_disk_size_gb must be at least 10."
  }
}

variable "database_max_connections" {
  type        = number
  description = "PostgreSQL max_connections flag. The functions' worst case must fit under it (see the connection budget)."
  default     = 100

  validation {
    condition     = var.database_max_connections >= 25 && var.database_max_connections <= 4000
    error_message = "database_max_connections is 25..4000."
  }
}

variable "database_reserved_connections" {
  type        = number
  description = "Connections kept out of the functions' budget: migrations, operators, Cloud SQL's own superuser slots."
  default     = 10

  validation {
    condition     = var.database_reserved_connections >= 5
    error_message = "Keep at least 5 connections for migrations and Cloud SQL's maintenance."
  }
}

variable "backup_retained_count" {
  type        = number
  description = "Automated daily backups kept."
  default     = 14

  validation {
    condition     = var.backup_retained_count >= 7 && var.backup_retained_count <= 365
    error_message = "backup_retained_count is 7..365."
  }
}

variable "point_in_time_recovery_days" {
  type        = number
  description = "Days of write-ahead log kept for point-in-time recovery (Enterprise edition: at most 7)."
  default     = 7

  validation {
    condition     = var.point_in_time_recovery_days >= 1 && var.point_in_time_recovery_days <= 35
    error_message = "point_in_time_recovery_days is 1..35 (1..7 on the Enterprise edition)."
  }
}

# -- cache -------------------------------------------------------------------------------------------

variable "redis_tier" {
  type        = string
  description = "Memorystore tier: BASIC (one node) or STANDARD_HA (replica with failover, for production)."
  default     = "BASIC"

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.redis_tier)
    error_message = "redis_tier must be BASIC or STANDARD_HA."
  }
}

variable "redis_memory_size_gb" {
  type        = number
  description = "Memorystore capacity in GiB."
  default     = 1

  validation {
    condition     = var.redis_memory_size_gb >= 1 && var.redis_memory_size_gb <= 300
    error_message = "redis_memory_size_gb is 1..300."
  }
}

# -- edge --------------------------------------------------------------------------------------------

variable "rate_limit_per_minute" {
  type        = number
  description = "Requests per minute one client IP may send before Cloud Armor answers 429."
  default     = 600

  validation {
    condition     = var.rate_limit_per_minute >= 10
    error_message = "rate_limit_per_minute below 10 would throttle ordinary use."
  }
}

variable "login_rate_limit_per_minute" {
  type        = number
  description = "Requests per minute one client IP may POST to /auth/login, /auth/register, /auth/refresh, /auth/me/password and /auth/tokens."
  default     = 30

  validation {
    condition     = var.login_rate_limit_per_minute >= 5 && var.login_rate_limit_per_minute <= var.rate_limit_per_minute
    error_message = "login_rate_limit_per_minute is at least 5 and at most rate_limit_per_minute."
  }
}

variable "smoke_service_account" {
  type        = string
  default     = "pipeline"
  description = "Name of the release manager's service account (POST /auth/service-accounts) the smoke test exchanges the deployer's ID token for (docs/deploy.md, keyless sign-in)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.smoke_service_account))
    error_message = "smoke_service_account must be a lowercase slug."
  }
}

variable "iap_enabled" {
  type        = bool
  default     = false
  description = "Put Identity-Aware Proxy on the load balancer's backends (people sign in with Google; docs/api.md, \"People behind Identity-Aware Proxy\"). Every caller must then pass IAP, pipelines included."
}

variable "iap_members" {
  type        = list(string)
  default     = []
  description = "Who IAP lets through when iap_enabled (roles/iap.httpsResourceAccessor), e.g. group:releases@example.com."
}

variable "events_dispatcher" {
  type        = string
  default     = "scheduler"
  description = "Name of the release manager's service account (POST /auth/service-accounts) that Cloud Scheduler's OIDC token speaks for: it may dispatch events, nothing more (docs/deploy.md, events)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.events_dispatcher))
    error_message = "events_dispatcher must be a lowercase slug."
  }
}

variable "attestors" {
  type        = list(string)
  default     = []
  description = "Release environments (of the catalogue) whose queued deployments sign Binary Authorization attestations of their images: a KMS key, a note and an attestor each (attestations.tf). Empty: none."

  validation {
    condition     = alltrue([for name in var.attestors : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", name))])
    error_message = "attestors are environment names: lowercase slugs."
  }
}

variable "binauthz_enforcement" {
  type        = string
  default     = "off"
  description = "The example Binary Authorization policy (attestations.tf): off, dryrun (refusals are logged only: start here, and in staging) or enforce."

  validation {
    condition     = contains(["off", "dryrun", "enforce"], var.binauthz_enforcement)
    error_message = "binauthz_enforcement is off, dryrun or enforce."
  }
}

variable "binauthz_required_attestor" {
  type        = string
  default     = "production"
  description = "The attested environment whose attestation the example policy requires (one of attestors)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.binauthz_required_attestor))
    error_message = "binauthz_required_attestor is an environment name: a lowercase slug."
  }
}

variable "drift_detection" {
  type        = bool
  default     = false
  description = "Route Cloud Run and GKE deploys (admin activity) to POST /releases/drift/observations, to report images deployed around the gates (drift.tf; an Owner's apply: it adds a log sink)."
}

variable "drift_observer" {
  type        = string
  default     = "drift"
  description = "Name of the release manager's service account (POST /auth/service-accounts) that the drift push's OIDC token speaks for (trust: the drift push identity's Google tokens)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.drift_observer))
    error_message = "drift_observer must be a lowercase slug."
  }
}

variable "drift_locks" {
  type        = bool
  default     = false
  description = "An image deployed around the gates also locks its environment for its application (DRIFT_LOCKS)."
}
