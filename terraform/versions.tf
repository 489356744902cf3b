terraform {
  # 1.11: write-only arguments (the JWT key reaches Secret Manager without entering the state).
  required_version = ">= 1.11, < 2.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 7.21: Direct VPC egress on google_cloudfunctions2_function.
      version = ">= 7.21, < 8.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: the ephemeral random_password.
      version = ">= 3.7, < 4.0"
    }
  }
}
