locals {
  name = "rm-${var.environment}"

  # What `make package` built: function -> {object, sha256}. The object name carries the hash.
  packages = jsondecode(file("${var.dist_dir}/manifest.json")).functions

  # Which secrets each function reads. This map is the only place access is decided: the function's
  # secret environment variables and volumes, and the IAM grants on each secret, all follow it.
  function_secrets = {
    auth     = ["jwt-key", "redis-auth", "redis-ca", "audit-key"]
    releases = ["jwt-key", "redis-auth", "redis-ca", "audit-key"]
    health   = ["redis-auth", "redis-ca"]
    # The console signs people in (tokens, CSRF keys from the signing key) and records what they do.
    console = ["jwt-key", "redis-auth", "redis-ca", "audit-key"]
  }
  # Secrets handed over as environment variables (secret -> variable) ...
  secret_env = {
    jwt-key    = "JWT_SECRET"
    redis-auth = "REDIS_PASSWORD"
    audit-key  = "AUDIT_KEY"
  }
  # ... and as files (secret -> mount folder and file name).
  secret_files = {
    redis-ca = { mount_path = "/etc/secrets/redis-ca", file = "server-ca.pem" }
  }

  secret_access = {
    for pair in flatten([
      for function, secrets in local.function_secrets : [for secret in secrets : { function = function, secret = secret }]
    ]) : "${pair.function}/${pair.secret}" => pair
  }

  # The connection budget: each instance runs one process (WORKERS=1) whose pool holds up to
  # concurrency + db_max_overflow connections; every instance of every function may be up at once.
  connections_per_instance = { for name, f in var.functions : name => f.concurrency + f.db_max_overflow }
  connection_demand        = sum([for name, f in var.functions : local.connections_per_instance[name] * f.max_instances])
  connection_budget        = var.database_max_connections - var.database_reserved_connections

  # Every role this configuration grants on the project, per kind of account. The pipeline cannot
  # change project bindings (.ci/bootstrap): a change here needs an Owner apply.
  function_project_roles = ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]
  build_project_roles    = ["roles/logging.logWriter"]
  ci_project_roles       = ["roles/logging.logWriter"]

  # Google's condition for a Cloud SQL role on one instance (the function grants above).
  sql_instance_condition = "resource.name == 'projects/${var.project_id}/instances/${google_sql_database_instance.main.name}' && resource.type == 'sqladmin.googleapis.com/Instance'"

  # The bucket Cloud Functions copies each source zip into before building it.
  gcf_sources_bucket = "gcf-v2-sources-${data.google_project.main.number}-${var.region}"

  # IAM database users are the service account email without ".gserviceaccount.com".
  database_users = { for name, account in google_service_account.functions : name => trimsuffix(account.email, ".gserviceaccount.com") }
  migrator_user  = trimsuffix(var.deployer_service_account, ".gserviceaccount.com")
}
