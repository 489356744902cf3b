# The audit log's anchor outside the database (docs/security.md: "Audit log anchoring").
#
# After every commit that appends audit events, the function that made it prints one structured
# line to stdout, {"message": "audit checkpoint", "audit_checkpoint": {"seq", "hash"}}. This sink
# routes those lines, and only those from the functions that append events, into a log bucket whose
# retention is locked: no one, the project's owner included, can delete or edit an entry before it
# expires, shorten the retention, or delete the bucket while it holds entries. The releases
# function reads them back through a view (`GET /releases/audit/verify`); nothing else is granted.
# Writing needs no permission (Cloud Run forwards stdout), so a compromised database or function
# can add a checkpoint, which at worst makes verify fail, but never remove one.
#
# The chain itself is keyed with HMAC-SHA256: the key is the `audit-key` secret (secrets.tf, read
# by auth and releases through local.function_secrets), which the database never sees.

locals {
  # The functions that append audit events, so write checkpoints.
  audit_writers = ["auth", "releases", "console"]
  # Cloud Run service of each (a gen2 function runs as the Cloud Run service of the same name).
  audit_writer_filter = join(" OR ", [for f in local.audit_writers : "resource.labels.service_name = \"${local.name}-${f}\""])
}

resource "google_project_service" "logging" {
  service = "logging.googleapis.com"
  # Cloud Logging serves the whole project; destroying this stack must not switch it off.
  disable_on_destroy = false
}

resource "google_logging_project_bucket_config" "audit" {
  project        = var.project_id
  location       = var.region
  bucket_id      = "${local.name}-audit-checkpoints"
  description    = "Release Manager (${var.environment}): audit log checkpoints (seq and hash of the chain's head). Retention locked."
  retention_days = var.audit_checkpoint_retention_days
  # Irreversible: the retention can then only grow, and no entry can be deleted before it expires.
  locked = true

  depends_on = [google_project_service.logging]
}

resource "google_logging_project_sink" "audit_checkpoints" {
  name        = "${local.name}-audit-checkpoints"
  description = "Audit log checkpoints from the functions that append events, into the locked bucket."
  destination = "logging.googleapis.com/${google_logging_project_bucket_config.audit.id}"
  filter = join(" AND ", [
    "resource.type = \"cloud_run_revision\"",
    "(${local.audit_writer_filter})",
    "jsonPayload.message = \"audit checkpoint\"",
  ])
  # A bucket in the same project: the sink needs no grant to write to it.
  unique_writer_identity = true
}

resource "google_logging_log_view" "audit_checkpoints" {
  name        = "checkpoints"
  bucket      = google_logging_project_bucket_config.audit.id
  description = "What the releases function reads to verify the audit log."
}

# Only the releases function (it serves /releases/audit/verify) reads the checkpoints, and only
# through this view of this bucket.
resource "google_logging_log_view_iam_member" "audit_checkpoints" {
  parent   = google_logging_log_view.audit_checkpoints.parent
  location = google_logging_log_view.audit_checkpoints.location
  bucket   = google_logging_log_view.audit_checkpoints.bucket
  name     = google_logging_log_view.audit_checkpoints.name
  role     = "roles/logging.viewAccessor"
  member   = google_service_account.functions["releases"].member
}

# The deployer reads logging configuration only (.ci/bootstrap): whoever changes a sink, a log bucket
# or an exclusion (the Owner included, or anyone who gains logging.configWriter) raises this alert,
# from the Admin Activity audit log, which is always on and cannot be excluded.
resource "google_monitoring_alert_policy" "logging_config_changed" {
  display_name = "${local.name}: log routing changed (sinks, buckets, exclusions)"
  combiner     = "OR"
  severity     = "CRITICAL"
  enabled      = true

  conditions {
    display_name = "A sink, log bucket, view or exclusion was created, changed or deleted"
    condition_matched_log {
      filter = join(" AND ", [
        "logName=\"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Factivity\"",
        "protoPayload.serviceName=\"logging.googleapis.com\"",
        "protoPayload.methodName=~\"ConfigServiceV2.(Create|Update|Delete|Undelete)(Sink|Bucket|BucketAsync|Exclusion|View|Settings|CmekSettings)$\"",
      ])
      label_extractors = {
        method    = "EXTRACT(protoPayload.methodName)"
        principal = "EXTRACT(protoPayload.authenticationInfo.principalEmail)"
        resource  = "EXTRACT(protoPayload.resourceName)"
      }
    }
  }

  notification_channels = var.alert_notification_channels

  # Log-match alerts require a rate limit; one notification per five minutes keeps a burst of
  # changes (an apply) to one message, and every change stays in the audit log.
  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Log routing changed in ${var.project_id}: the audit checkpoints' sink (${local.name}-audit-checkpoints) and its locked bucket are in terraform/audit.tf. Check the principal and method in the incident; an apply by the Owner raises it too."
  }

  depends_on = [google_project_service.main]
}

# The chain's HMAC key: made during the apply, write-only, so it is in no plan and no state.
ephemeral "random_password" "audit_key" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret_version" "audit_key" {
  secret         = google_secret_manager_secret.main["audit-key"].id
  secret_data_wo = ephemeral.random_password.audit_key.result
  # Never bump: every event is hashed with this key, and with a new one none would verify (there
  # are no key ids yet, so the key cannot be rotated).
  secret_data_wo_version = 1

  lifecycle {
    prevent_destroy = true
  }
}

variable "audit_checkpoint_retention_days" {
  type        = number
  description = "How long the locked bucket keeps audit checkpoints. Once applied it can only grow."
  default     = 400

  validation {
    condition     = var.audit_checkpoint_retention_days >= 30 && var.audit_checkpoint_retention_days <= 3650
    error_message = "audit_checkpoint_retention_days must be between 30 and 3650."
  }
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Monitoring notification channels (projects/P/notificationChannels/ID) told when log routing changes; none: the incident shows in the console only."
  default     = []
}

output "audit_checkpoint_view" {
  description = "The log view the releases function reads audit checkpoints from (AUDIT_CHECKPOINTS without `logging:`)."
  value       = google_logging_log_view.audit_checkpoints.id
}
