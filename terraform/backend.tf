# State lives in a GCS bucket made once per project (docs/deploy.md, "One-time bootstrap"). The bucket and
# prefix are given at init time, so one configuration serves every environment:
#   terraform init -backend-config=environments/backend.hcl.example   (copy it and fill it in)
terraform {
  backend "gcs" {}
}
