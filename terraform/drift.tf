# Deploys around the gates (docs/api.md, "Deploys around the gates"; README, "Enforcing the gates"):
# Cloud Run's and GKE's admin activity (a new revision, a changed image) goes from a log sink to a
# topic, whose push subscription calls POST /releases/drift/observations with the OIDC token of its
# own identity; the API takes that token from the account DRIFT_OBSERVER names alone (as it takes
# Cloud Scheduler's). Opt-in: var.drift_detection. The sink is log routing, an Owner's apply (the
# deployer cannot change sinks), and it raises the log routing alert of audit.tf as any sink does.

resource "google_pubsub_topic" "drift" {
  count = var.drift_detection ? 1 : 0
  # checkov:skip=CKV_GCP_83:Admin activity entries of the project's own Cloud Run services and GKE workloads, kept a day; Google-managed encryption at rest, as for the logs they come from.

  name                       = "${local.name}-drift"
  message_retention_duration = "86400s"

  depends_on = [google_project_service.main]
}

resource "google_logging_project_sink" "drift" {
  count = var.drift_detection ? 1 : 0

  name        = "${local.name}-drift"
  description = "Cloud Run and GKE deploys (admin activity), for the release manager to match against its deployments."
  destination = "pubsub.googleapis.com/${google_pubsub_topic.drift[0].id}"
  filter = join(" AND ", [
    "logName = \"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Factivity\"",
    "(protoPayload.methodName =~ \"^google\\\\.cloud\\\\.run\\\\.v[12]\\\\.Services\\\\.(Create|Replace|Update)Service$\" OR protoPayload.methodName =~ \"^io\\\\.k8s\\\\.apps\\\\.v1\\\\.(deployments|statefulsets|daemonsets)\\\\.(create|update|patch)$\")",
  ])
  unique_writer_identity = true
}

# The sink's own identity publishes to this topic alone.
resource "google_pubsub_topic_iam_member" "drift_sink" {
  count = var.drift_detection ? 1 : 0

  topic  = google_pubsub_topic.drift[0].id
  role   = "roles/pubsub.publisher"
  member = google_logging_project_sink.drift[0].writer_identity
}

# The push's identity: no Google Cloud role at all; in the API, the account DRIFT_OBSERVER names.
resource "google_service_account" "drift" {
  count = var.drift_detection ? 1 : 0

  account_id   = "${local.name}-drift"
  display_name = "Release Manager drift observations push (${var.environment})"

  depends_on = [google_project_service.main]
}

# Pub/Sub's service agent mints that identity's OIDC tokens for the push, and nothing else.
resource "google_service_account_iam_member" "drift_push_tokens" {
  count = var.drift_detection ? 1 : 0

  service_account_id = google_service_account.drift[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.main.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription" "drift" {
  count = var.drift_detection ? 1 : 0

  name                 = "${local.name}-drift"
  topic                = google_pubsub_topic.drift[0].id
  ack_deadline_seconds = 30
  # An entry the API cannot take now (it is down) is pushed again for a day.
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "https://${var.domain}/releases/drift/observations"

    oidc_token {
      service_account_email = google_service_account.drift[0].email
      audience              = "https://${var.domain}"
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}
