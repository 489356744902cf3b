terraform {
  # 1.11: write-only arguments (the JWT key reaches Secret Manager without entering the state).
  required_version = ">= 1.11, < 2.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 7.21: Direct VPC egress on google_cloudfunctions2_function.
      version = ">= 7.21, < 8.0"
    }
    google-beta = {
      source = "hashicorp/google-beta"
      # Only for google_project_service_identity, which the google provider does not have.
      version = ">= 7.21, < 8.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: the ephemeral random_password.
      version = ">= 3.7, < 4.0"
    }
    time = {
      source = "hashicorp/time"
      # time_sleep: IAM grants and new service agents take a minute to be honoured everywhere.
      version = ">= 0.12, < 1.0"
    }
  }
}
