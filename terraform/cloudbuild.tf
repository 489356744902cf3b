# The pipeline runs on this pool: it is peered to the VPC (through private services access), so the
# migration step reaches Cloud SQL's private IP. A /26 leaves room for 62 build machines (a /29, 6).
# The range cannot change in place: an existing pool is replaced, so apply such a change by hand,
# not from a build running on that pool.
resource "google_cloudbuild_worker_pool" "main" {
  # checkov:skip=CKV_GCP_86:The pool pulls the build images and Python packages from public registries; peering gives it only the private ranges, and a peered producer network cannot use Cloud NAT.
  name     = local.name
  location = var.region

  worker_config {
    machine_type   = "e2-standard-2"
    disk_size_gb   = 100
    no_external_ip = false
  }

  network_config {
    peered_network          = google_compute_network.main.id
    peered_network_ip_range = "/26"
  }

  depends_on = [google_service_networking_connection.main]
}
