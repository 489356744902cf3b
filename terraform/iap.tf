# Identity-Aware Proxy, opt-in (var.iap_enabled): IAP on each backend service (load_balancer.tf),
# the API told each backend's audience (IAP_AUDIENCE, functions.tf), IAP's service agent allowed to
# invoke the functions, and the members IAP lets through. docs/api.md, "People behind Identity-Aware
# Proxy", weighs it: every request must then pass IAP, so GitHub Actions' keyless sign-in cannot
# reach the API, and Google callers need an IAP-accepted ID token.

resource "google_project_service" "iap" {
  count = var.iap_enabled ? 1 : 0

  service            = "iap.googleapis.com"
  disable_on_destroy = false
}

resource "google_project_service_identity" "iap" {
  provider = google-beta
  count    = var.iap_enabled ? 1 : 0

  service = "iap.googleapis.com"

  depends_on = [google_project_service.iap]
}

# IAP calls the functions as its service agent.
resource "google_cloud_run_service_iam_member" "iap" {
  for_each = var.iap_enabled ? var.functions : {}

  location = var.region
  service  = google_cloudfunctions2_function.main[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_project_service_identity.iap[0].email}"

  # On the first apply with IAP on, the API is being enabled in the same run.
  depends_on = [google_project_service.iap]
}

resource "google_iap_web_backend_service_iam_member" "access" {
  for_each = var.iap_enabled ? {
    for pair in setproduct(keys(var.functions), var.iap_members) : "${pair[0]} ${pair[1]}" => {
      function = pair[0]
      member   = pair[1]
    }
  } : {}

  project             = var.project_id
  web_backend_service = google_compute_backend_service.main[each.value.function].name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value.member

  # On the first apply with IAP on, the API is being enabled in the same run.
  depends_on = [google_project_service.iap]
}
