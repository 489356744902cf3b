provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge(var.labels, {
    app         = "release-manager"
    environment = var.environment
    managed-by  = "terraform"
  })
}
