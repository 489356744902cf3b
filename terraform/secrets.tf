resource "google_secret_manager_secret" "main" {
  for_each = {
    jwt-key    = "HS256 key the auth and releases functions sign and check access tokens with."
    redis-auth = "Memorystore AUTH string."
    redis-ca   = "Memorystore server CA (PEM), mounted as a file so the functions can verify TLS."
    audit-key  = "HMAC key of the audit chain (auth and releases); the database never holds it (audit.tf)."
  }

  secret_id = "${local.name}-${each.key}"
  annotations = {
    description = each.value
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.main]
}

# A fresh key that exists only during the apply: write-only, so it is in no plan and no state.
ephemeral "random_password" "jwt_key" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret_version" "jwt_key" {
  secret                 = google_secret_manager_secret.main["jwt-key"].id
  secret_data_wo         = ephemeral.random_password.jwt_key.result
  secret_data_wo_version = var.jwt_key_version
}

# Memorystore generates the AUTH string; it is already in the state through the instance, so
# writing it here adds no exposure.
resource "google_secret_manager_secret_version" "redis_auth" {
  secret      = google_secret_manager_secret.main["redis-auth"].id
  secret_data = google_redis_instance.main.auth_string
}

resource "google_secret_manager_secret_version" "redis_ca" {
  secret      = google_secret_manager_secret.main["redis-ca"].id
  secret_data = join("\n", [for ca in google_redis_instance.main.server_ca_certs : ca.cert])
}

locals {
  # The version each function pins: a new version redeploys the functions that read it.
  secret_versions = {
    jwt-key    = google_secret_manager_secret_version.jwt_key.version
    redis-auth = google_secret_manager_secret_version.redis_auth.version
    redis-ca   = google_secret_manager_secret_version.redis_ca.version
    audit-key  = google_secret_manager_secret_version.audit_key.version
  }
}

# Each function reads exactly the secrets local.function_secrets lists, and nothing else.
resource "google_secret_manager_secret_iam_member" "functions" {
  for_each = local.secret_access

  secret_id = google_secret_manager_secret.main[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.functions[each.value.function].member
}
