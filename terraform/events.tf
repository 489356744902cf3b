# Events (docs/events.md "Events and webhooks"): every event is also published to this topic (PUBSUB_TOPIC),
# and Cloud Scheduler calls the dispatch endpoint every minute, which sends the webhook deliveries
# that are due (retries, and whatever an instance could not send right after its commit).

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83:Events carry release and deployment metadata the API shows any viewer (no secrets); Google-managed encryption at rest, as for the functions' logs.
  name = "${local.name}-events"
  # Subscribers that fall behind can catch up on a week of events.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.main]
}

# Only the releases function publishes (its changes are the ones that yield events).
resource "google_pubsub_topic_iam_member" "releases_publishes" {
  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.functions["releases"].member
}

# The pipeline manages this topic, and no other: pubsub.admin here, none on the project (.ci/bootstrap).
resource "google_pubsub_topic_iam_member" "deployer" {
  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.admin"
  member = "serviceAccount:${var.deployer_service_account}"
}

# The identity Cloud Scheduler calls the API as: it holds no Google Cloud role at all. It signs in
# with its OIDC token (audience: the API's URL); what it may do in the API is its binding there.
resource "google_service_account" "scheduler" {
  account_id   = "${local.name}-scheduler"
  display_name = "Release Manager event dispatch schedule (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_cloud_scheduler_job" "dispatch_events" {
  name             = "${local.name}-dispatch-events"
  description      = "Sends the webhook deliveries that are due: POST /releases/events/dispatch, every minute."
  region           = var.region
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # The next minute's call is the retry; a run sends everything due then.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "https://${var.domain}/releases/events/dispatch"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = "https://${var.domain}"
    }
  }

  depends_on = [google_project_service.main, google_service_account_iam_member.deployer_acts_as]
}
