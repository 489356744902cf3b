resource "google_sql_database_instance" "main" {
  # checkov:skip=CKV_GCP_108:Every client is a Cloud SQL connector on a private address; a reverse DNS lookup per connection adds latency and log noise and names nothing the address does not.
  # checkov:skip=CKV2_GCP_13:log_duration writes a line per statement (cost and noise); slow statements are in Query Insights and the statement timeout cancels runaways.
  name             = local.name
  region           = var.region
  database_version = "POSTGRES_18"
  # Terraform refuses to destroy it, and so does the Cloud SQL API (settings below).
  deletion_protection = true

  settings {
    edition                     = var.database_edition
    tier                        = var.database_tier
    availability_type           = var.database_high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.database_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = true
    # Only the Cloud SQL connectors (mTLS with an ephemeral certificate, IAM login) may connect.
    connector_enforcement = "REQUIRED"

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.main.id
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.point_in_time_recovery_days

      backup_retention_settings {
        retained_backups = var.backup_retained_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7 # Sunday
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      query_string_length     = 1024
      record_application_tags = true
      record_client_address   = false
    }

    # The functions log in as their service accounts.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "max_connections"
      value = tostring(var.database_max_connections)
    }
    # Logging flags of the CIS benchmark (what checkov checks).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "warning"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    # No log_hostname: every connection comes through the connector from a private address, and the
    # reverse DNS lookup per connection only adds latency and noise.
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    # No log_duration: one log line per statement costs more than it tells; Query Insights keeps
    # the latencies.
    database_flags {
      name  = "log_executor_stats"
      value = "off"
    }
    database_flags {
      name  = "log_parser_stats"
      value = "off"
    }
    database_flags {
      name  = "log_planner_stats"
      value = "off"
    }
    database_flags {
      name  = "log_statement_stats"
      value = "off"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    # pgaudit logs nothing until told what: privilege changes (GRANT, REVOKE, roles). DDL is already
    # in log_statement; reads and writes would be one line per query.
    database_flags {
      name  = "pgaudit.log"
      value = "role"
    }
  }

  lifecycle {
    precondition {
      condition     = var.environment != "production" || var.database_high_availability
      error_message = "production needs database_high_availability = true (a regional instance)."
    }
  }

  depends_on = [google_service_networking_connection.main]
}

resource "google_sql_database" "main" {
  name     = "release_manager"
  instance = google_sql_database_instance.main.name
}

# One IAM database user per function service account; no passwords anywhere.
resource "google_sql_user" "functions" {
  for_each = google_service_account.functions

  name     = local.database_users[each.key]
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

# The pipeline's service account runs the migrations and owns the tables. IAM users start with no
# privileges; creating tables needs CREATE on the public schema, which belongs to the database's
# owner, and a database made through the Cloud SQL API is owned by cloudsqlsuperuser. So that role,
# managed here rather than by hand, is the least Cloud SQL offers for it; the functions' users get
# only table privileges (.ci/grant_access.py).
resource "google_sql_user" "migrator" {
  name           = local.migrator_user
  instance       = google_sql_database_instance.main.name
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]
}
