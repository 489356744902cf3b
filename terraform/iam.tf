# One identity per function, holding only what that function uses: the Cloud SQL connector (client
# and IAM login) here, and its secrets in secrets.tf. No basic roles anywhere.
resource "google_service_account" "functions" {
  for_each = var.functions

  account_id   = "${local.name}-${each.key}"
  display_name = "Release Manager ${each.key} function (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "functions" {
  for_each = {
    for pair in setproduct(keys(var.functions), ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], role = pair[1] }
  }

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.functions[each.value.function].member
}

# Cloud Build turns each source zip into a container image as this account (not the default
# compute account, which may hold Editor).
resource "google_service_account" "build" {
  account_id   = "${local.name}-build"
  display_name = "Release Manager function builds (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# The load balancer calls the functions without credentials, so invocation is open; the functions'
# ingress (internal-and-gclb) is what keeps everyone else out, and the API checks its own tokens.
resource "google_cloud_run_service_iam_member" "load_balancer" {
  # checkov:skip=CKV_GCP_102:Serverless NEGs send no identity, so run.invoker must be allUsers; ingress ALLOW_INTERNAL_AND_GCLB limits callers to the load balancer (behind Cloud Armor) and the API authenticates every protected request.
  for_each = var.functions

  location = var.region
  service  = google_cloudfunctions2_function.main[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
