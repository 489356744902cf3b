locals {
  labels = merge(var.labels, {
    app         = "release-manager"
    environment = var.environment
    managed-by  = "terraform"
  })
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

provider "google-beta" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}
