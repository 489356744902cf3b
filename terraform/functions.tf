# The three functions, one per folder under functions/, each an HTTP function whose entry point is
# named after its folder (`@functions_framework.http def auth(request)` in functions/auth/main.py).
resource "google_cloudfunctions2_function" "main" {
  for_each = var.functions

  name        = "${local.name}-${each.key}"
  location    = var.region
  description = "Release Manager ${each.key} (${var.environment}), package ${local.packages[each.key].sha256}"

  build_config {
    runtime         = "python311"
    entry_point     = each.key
    service_account = google_service_account.build.id
    # Our own repository, where the build account may push (iam.tf), rather than gcf-artifacts,
    # which would need artifactregistry.writer on the project.
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.main.name
        object = google_storage_bucket_object.sources[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    service_account_email            = google_service_account.functions[each.key].email
    all_traffic_on_latest_revision   = true
    # Reachable only through the load balancer (and from inside the VPC), never on its own URL.
    ingress_settings = "ALLOW_INTERNAL_AND_GCLB"

    # Private ranges (Cloud SQL, Memorystore) through the VPC; Google APIs as usual.
    direct_vpc_egress = "VPC_EGRESS_PRIVATE_RANGES_ONLY"
    direct_vpc_network_interface {
      network    = google_compute_network.main.name
      subnetwork = google_compute_subnetwork.main.name
    }

    # Every setting shared/platform/settings.py needs in production. Secrets are secret variables and files
    # (below), never values.
    environment_variables = {
      ENVIRONMENT         = var.environment
      APP_VERSION         = var.app_version
      LOG_LEVEL           = var.log_level
      GCP_PROJECT_ID      = var.project_id
      GCP_REGION          = var.region
      CLOUD_SQL_INSTANCE  = google_sql_database_instance.main.connection_name
      DB_NAME             = google_sql_database.main.name
      DB_USER             = google_sql_user.functions[each.key].name
      DB_IAM_AUTH         = "true"
      DB_PRIVATE_IP       = "true"
      DB_POOL_SIZE        = tostring(each.value.concurrency)
      DB_MAX_OVERFLOW     = tostring(each.value.db_max_overflow)
      THREADS             = tostring(each.value.concurrency)
      WORKERS             = "1"
      REDIS_URL           = "rediss://${google_redis_instance.main.host}:${google_redis_instance.main.port}/0"
      REDIS_CA_CERT       = "${local.secret_files["redis-ca"].mount_path}/${local.secret_files["redis-ca"].file}"
      TRUST_FORWARDED_FOR = "true"
      CORS_ORIGINS        = join(",", var.cors_origins)
      REGISTRATION_OPEN   = tostring(var.registration_open)
      AUDIT_CHECKPOINTS   = "logging:${google_logging_log_view.audit_checkpoints.id}"
      # The audience of IAP assertions of this function's own backend (iap.tf); empty: IAP sign-in off.
      IAP_AUDIENCE = var.iap_enabled ? "/projects/${data.google_project.main.number}/global/backendServices/${google_compute_backend_service.main[each.key].generated_id}" : ""
      # Only releases may publish there (events.tf); the others record no change that yields an event.
      PUBSUB_TOPIC = google_pubsub_topic.events.id
      # The API service account whose OIDC token (Cloud Scheduler's, events.tf) may dispatch events.
      EVENTS_DISPATCHER = var.events_dispatcher
      # Binary Authorization (attestations.tf): the environments attested, and the ring of their keys.
      ATTESTORS            = join(",", var.attestors)
      ATTESTATION_KEY_RING = local.attesting ? google_kms_key_ring.attestations[0].id : ""
      # The account whose OIDC token the drift push (drift.tf) speaks for.
      DRIFT_OBSERVER = var.drift_observer
      DRIFT_LOCKS    = tostring(var.drift_locks)
    }

    dynamic "secret_environment_variables" {
      for_each = { for secret in local.function_secrets[each.key] : secret => local.secret_env[secret] if contains(keys(local.secret_env), secret) }
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.main[secret_environment_variables.key].secret_id
        version    = local.secret_versions[secret_environment_variables.key]
      }
    }

    dynamic "secret_volumes" {
      for_each = { for secret in local.function_secrets[each.key] : secret => local.secret_files[secret] if contains(keys(local.secret_files), secret) }
      content {
        mount_path = secret_volumes.value.mount_path
        project_id = var.project_id
        secret     = google_secret_manager_secret.main[secret_volumes.key].secret_id
        versions {
          version = local.secret_versions[secret_volumes.key]
          path    = secret_volumes.value.file
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = local.connection_demand <= local.connection_budget
      error_message = "Connection budget exceeded: the functions may open ${local.connection_demand} connections ((concurrency + db_max_overflow) x max_instances, summed) but max_connections ${var.database_max_connections} minus ${var.database_reserved_connections} reserved leaves ${local.connection_budget}. Lower max_instances or concurrency, or raise database_max_connections with a larger tier."
    }
    precondition {
      condition     = contains(keys(local.packages), each.key)
      error_message = "dist/manifest.json has no package for ${each.key}: run `make package` before plan."
    }
  }

  # Every grant the build and the functions rely on, and the service agents, must exist and have
  # settled first (iam.tf): time_sleep.iam_propagation waits for all of them.
  depends_on = [time_sleep.iam_propagation]
}
