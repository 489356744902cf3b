# Two Docker repositories in Artifact Registry, each granted on itself and never on the project.

# The functions' images: Cloud Functions builds each package into an image here (the functions'
# docker_repository). Only the build account writes (iam.tf); the pipeline reads it on refresh.
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:The images are built from the sources in git and the public packages they pin; Google-managed encryption at rest, as for the sources bucket and the functions' logs.
  location      = var.region
  repository_id = "${local.name}-functions"
  description   = "Release Manager (${var.environment}): the functions' images, built by Cloud Functions."
  format        = "DOCKER"

  # A deploy builds a new image; the last ten of each function stay for rollbacks, older ones go.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.main]
}

# Docker Hub through Google: the CI images (docs/deploy.md, "The build images") may be pulled from here, so
# that no pull reaches Docker Hub or its limits. Made by the Owner's first apply; the pipeline and
# the tests' account may read it, and nobody may write (a remote repository is filled by its cache).
resource "google_artifact_registry_repository" "docker_hub" {
  # checkov:skip=CKV_GCP_84:A cache of public Docker Hub images, whose digests the builds pin; Google-managed encryption at rest.
  location      = var.region
  repository_id = "${local.name}-docker-hub"
  description   = "Release Manager (${var.environment}): Docker Hub, cached, for the CI images."
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"

  remote_repository_config {
    description = "Docker Hub"
    docker_repository {
      public_repository = "DOCKER_HUB"
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_artifact_registry_repository_iam_member" "readers" {
  for_each = {
    "functions/deployer"  = { repository = google_artifact_registry_repository.functions.name, member = "serviceAccount:${var.deployer_service_account}" }
    "docker-hub/deployer" = { repository = google_artifact_registry_repository.docker_hub.name, member = "serviceAccount:${var.deployer_service_account}" }
    "docker-hub/ci"       = { repository = google_artifact_registry_repository.docker_hub.name, member = google_service_account.ci.member }
  }

  location   = var.region
  repository = each.value.repository
  role       = "roles/artifactregistry.reader"
  member     = each.value.member
}
