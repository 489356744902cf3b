output "load_balancer_ip" {
  description = "Address of the HTTPS load balancer: point the domain's A record here."
  value       = google_compute_global_address.load_balancer.address
}

output "url" {
  description = "Base URL of the API; /health, /auth/* and /releases/* are served under it."
  value       = "https://${var.domain}"
}

output "function_urls" {
  description = "Each function's own URL. Ingress is internal-and-gclb, so from outside Google Cloud they answer 404: use the load balancer."
  value       = { for name, function in google_cloudfunctions2_function.main : name => function.url }
}

output "instance_connection_name" {
  description = "Cloud SQL instance connection name (project:region:instance), the CLOUD_SQL_INSTANCE setting."
  value       = google_sql_database_instance.main.connection_name
}

output "database_name" {
  description = "Database the functions use (DB_NAME)."
  value       = google_sql_database.main.name
}

output "function_database_users" {
  description = "IAM database user of each function; the pipeline grants them access to the tables after migrating."
  value       = { for name, user in google_sql_user.functions : name => user.name }
}

output "migrator_database_user" {
  description = "IAM database user the pipeline migrates as (DB_USER for `python -m shared.manage`)."
  value       = google_sql_user.migrator.name
}

output "worker_pool" {
  description = "Cloud Build private pool the pipeline must run on (options.pool.name in cloudbuild.yaml)."
  value       = google_cloudbuild_worker_pool.main.id
}

output "ci_service_account" {
  description = "Account the pipeline's test build runs as (cloudbuild.yaml, _CI_SA): logs only, no deploy rights."
  value       = google_service_account.ci.email
}

output "smoke_service_account" {
  description = "The API's service account the smoke test signs in as, keyless: an admin creates it trusting the deployer's Google identity (docs/deploy.md)."
  value       = var.smoke_service_account
}

output "scheduler" {
  description = "Cloud Scheduler's identity: the API service account to create for it (trust: issuer https://accounts.google.com, subject = unique_id, audience, claims.email) and its name (docs/deploy.md, events)."
  value = {
    api_service_account = var.events_dispatcher
    email               = google_service_account.scheduler.email
    unique_id           = google_service_account.scheduler.unique_id
    audience            = "https://${var.domain}"
  }
}

output "connection_budget" {
  description = "Worst-case connections the functions may open, and what the database leaves them."
  value = {
    demand           = local.connection_demand
    budget           = local.connection_budget
    max_connections  = var.database_max_connections
    per_instance     = local.connections_per_instance
    reserved_for_ops = var.database_reserved_connections
  }
}

output "docker_hub_mirror" {
  description = "Docker Hub through the remote repository: prefix the CI images with it (hashicorp/terraform:TAG becomes <this>/hashicorp/terraform:TAG)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.docker_hub.repository_id}"
}
