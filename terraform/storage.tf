# Function sources: one immutable object per package, named after its content hash.
resource "google_storage_bucket" "main" {
  # checkov:skip=CKV_GCP_62:Holds only build inputs that are also in git, written by the pipeline and read by the build account; usage logs (a legacy feature) would need a second bucket and add nothing that Cloud Audit Logs do not.
  name                        = "${var.project_id}-${local.name}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "sources" {
  for_each = var.functions

  bucket = google_storage_bucket.main.name
  name   = "functions/${local.packages[each.key].object}"
  source = "${var.dist_dir}/${local.packages[each.key].object}"
}

# The pipeline manages this bucket and its objects, and holds no storage role on the project
# (.ci/bootstrap): the Owner's first apply creates the bucket and this grant.
resource "google_storage_bucket_iam_member" "deployer" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.admin"
  member = "serviceAccount:${var.deployer_service_account}"
}
