# One identity per function, holding only what that function uses: the Cloud SQL connector (client
# and IAM login, on this configuration's instance alone) and run.invoker on its own service (Direct
# VPC egress) here, and its secrets in secrets.tf. No basic roles anywhere.
data "google_project" "main" {
  project_id = var.project_id
}

resource "google_service_account" "functions" {
  for_each = var.functions

  account_id   = "${local.name}-${each.key}"
  display_name = "Release Manager ${each.key} function (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "functions" {
  for_each = {
    for pair in setproduct(keys(var.functions), local.function_project_roles) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], role = pair[1] }
  }

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.functions[each.value.function].member

  # Cloud SQL's documented instance condition: the connector's calls (connect, IAM login) name the
  # instance, so the grant reaches this one and no other instance of the project.
  condition {
    title       = "${local.name}-instance-only"
    description = "Only the Cloud SQL instance of this environment."
    expression  = local.sql_instance_condition
  }
}

# Invoking its own Cloud Run service, and no other, as the comment above says.
resource "google_cloud_run_service_iam_member" "functions_invoke_themselves" {
  for_each = var.functions

  location = var.region
  service  = google_cloudfunctions2_function.main[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.functions[each.key].member
}

# Cloud Build turns each source zip into a container image as this account (not the default
# compute account, which may hold Editor).
resource "google_service_account" "build" {
  account_id   = "${local.name}-build"
  display_name = "Release Manager function builds (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "build" {
  for_each = toset(local.build_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# The build pushes each function's image to this configuration's repository (the functions'
# docker_repository, registry.tf), and to no other repository of the project.
resource "google_artifact_registry_repository_iam_member" "build" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# Cloud Functions copies each zip into its own bucket, gcf-v2-sources-<project number>-<region>,
# and the build reads it from there (hashicorp/terraform-provider-google#20571). That bucket is
# made by Cloud Functions on the first deploy, so the grant is on the project, limited by a
# condition to that one bucket and its objects. objectAdmin as in the provider's own builder
# example: the build may write back beside the copy. The bucket itself by its exact name, its
# objects below its name and a `/`: a bare prefix would match every bucket whose name starts so.
resource "google_project_iam_member" "build_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-v2-sources-only"
    description = "Only the bucket Cloud Functions copies this region's sources into."
    expression  = "resource.name == \"projects/_/buckets/${local.gcf_sources_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.gcf_sources_bucket}/\")"
  }
}

# Cloud Build starts the test build of the pipeline as this account: it holds no role but writing
# its logs and reading the staged sources, so the repository's tests and their dependencies run
# with nothing worth stealing (cloudbuild.yaml, `lint-and-test`).
resource "google_service_account" "ci" {
  account_id   = "${local.name}-ci"
  display_name = "Release Manager pipeline tests (${var.environment})"

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "ci" {
  for_each = toset(local.ci_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.ci.member
}

resource "google_storage_bucket_iam_member" "ci" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.ci.member
}

# The pipeline may act as the accounts this configuration creates, and as no other: it deploys
# the functions as their accounts, the builds as the build account, the tests as the ci one and
# the dispatch schedule as the scheduler one (events.tf), the drift push as the drift one (drift.tf).
# (It holds no project-wide serviceAccountUser; docs/deploy.md, "One-time bootstrap".)
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = merge(
    { for name, account in google_service_account.functions : name => account.name },
    {
      build     = google_service_account.build.name,
      ci        = google_service_account.ci.name,
      scheduler = google_service_account.scheduler.name,
    },
    { for account in google_service_account.drift : "drift" => account.name },
  )

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.deployer_service_account}"
}

# The smoke test signs in keyless: the deployer mints an ID token for itself (the metadata server's
# identity endpoint) and exchanges it at /auth/exchange. It may mint ID tokens for itself alone: the
# grant is on its own account, never on the project, and it mints no access tokens (no
# serviceAccountTokenCreator).
resource "google_service_account_iam_member" "deployer_mints_id_tokens" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.deployer_service_account}"
  role               = "roles/iam.serviceAccountOpenIdTokenCreator"
  member             = "serviceAccount:${var.deployer_service_account}"
}

# The pipeline updates the functions' Cloud Run services (and reads their IAM policies on refresh)
# on each of them, not on the project: it holds no run.admin there (.ci/bootstrap).
resource "google_cloud_run_service_iam_member" "deployer" {
  for_each = var.functions

  location = var.region
  service  = google_cloudfunctions2_function.main[each.key].name
  role     = "roles/run.admin"
  member   = "serviceAccount:${var.deployer_service_account}"
}

# The service agents Cloud Functions, Cloud Run and Cloud Build act through exist only once
# something asks for them; on a fresh project the first function deploy can race their creation.
resource "google_project_service_identity" "main" {
  provider = google-beta
  for_each = toset(["cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com"])

  project = var.project_id
  service = each.value

  depends_on = [google_project_service.main]
}

# New grants and new service agents take up to a minute to be honoured everywhere; the functions'
# first build fails with "access denied" without this pause (the provider's example does the same).
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  triggers = {
    grants = sha1(jsonencode(concat(
      [for grant in google_project_iam_member.functions : grant.id],
      [for grant in google_project_iam_member.build : grant.id],
      [google_project_iam_member.build_gcf_sources.id, google_storage_bucket_iam_member.build.id],
      [google_artifact_registry_repository_iam_member.build.id],
      [for grant in google_secret_manager_secret_iam_member.functions : grant.id],
      [for grant in google_service_account_iam_member.deployer_acts_as : grant.id],
      [for agent in google_project_service_identity.main : agent.email],
    )))
  }
}

# The load balancer calls the functions without credentials, so invocation is open; the functions'
# ingress (internal-and-gclb) is what keeps everyone else out, and the API checks its own tokens.
resource "google_cloud_run_service_iam_member" "load_balancer" {
  # checkov:skip=CKV_GCP_102:Serverless NEGs send no identity, so run.invoker must be allUsers (google_cloudfunctions2_function has no invoker_iam_disabled); ingress ALLOW_INTERNAL_AND_GCLB limits callers to the load balancer (behind Cloud Armor) and the VPC, and the API authenticates every protected request.
  for_each = var.functions

  location = var.region
  service  = google_cloudfunctions2_function.main[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
