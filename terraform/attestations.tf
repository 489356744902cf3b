# Binary Authorization (README, "Enforcing the gates"; docs/api.md, "Binary Authorization
# attestations"): for each release environment in var.attestors, an EC P-256 signing key in Cloud KMS,
# a Container Analysis note and the attestor that names both. A deployment that passed every gate
# there has its images signed with that key (releases and console, the functions that queue
# deployments, may sign with it and attach occurrences to the note; nothing else).
#
# These resources are an Owner's apply, as the audit sink is: the pipeline holds viewer roles on
# KMS, Container Analysis and Binary Authorization (.ci/bootstrap), never cloudkms.admin, which
# would let it grant itself the signer role and attest an image that passed no gate.

locals {
  attesting = length(var.attestors) > 0
  # The functions that move deployments to queued: the API and the console.
  attesting_functions = toset([for name in ["releases", "console"] : name if contains(keys(var.functions), name)])
  attestor_grants = {
    for pair in setproduct(tolist(local.attesting_functions), var.attestors) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], environment = pair[1] }
  }
}

resource "google_project_service" "attestations" {
  for_each = local.attesting ? toset([
    "binaryauthorization.googleapis.com",
    "cloudkms.googleapis.com",
    "containeranalysis.googleapis.com",
  ]) : toset([])

  service            = each.value
  disable_on_destroy = false
}

resource "google_kms_key_ring" "attestations" {
  count = local.attesting ? 1 : 0

  name     = "${local.name}-attestations"
  location = var.region

  depends_on = [google_project_service.attestations]
}

# One key per attested environment, named after it (what ATTESTATION_KEY_RING's reader expects).
resource "google_kms_crypto_key" "attestations" {
  for_each = toset(var.attestors)
  # checkov:skip=CKV_GCP_43:An asymmetric signing key cannot rotate itself; a new version is added by hand and named in the attestor (docs/deploy.md).

  name     = each.value
  key_ring = google_kms_key_ring.attestations[0].id
  purpose  = "ASYMMETRIC_SIGN"

  version_template {
    algorithm        = "EC_SIGN_P256_SHA256"
    protection_level = "HSM"
  }

  # A destroyed key would leave every attestation it made unverifiable.
  lifecycle {
    prevent_destroy = true
  }
}

data "google_kms_crypto_key_version" "attestations" {
  for_each = toset(var.attestors)

  crypto_key = google_kms_crypto_key.attestations[each.value].id
  version    = 1
}

resource "google_container_analysis_note" "attestations" {
  for_each = toset(var.attestors)

  name = "release-manager-${each.value}"

  attestation_authority {
    hint {
      human_readable_name = "Release Manager: passed every gate to ${each.value}"
    }
  }

  depends_on = [google_project_service.attestations]
}

resource "google_binary_authorization_attestor" "attestations" {
  for_each = toset(var.attestors)

  name        = "release-manager-${each.value}"
  description = "Release Manager: an image whose deployment to ${each.value} passed every gate."

  attestation_authority_note {
    note_reference = google_container_analysis_note.attestations[each.value].name

    public_keys {
      id = "//cloudkms.googleapis.com/v1/${data.google_kms_crypto_key_version.attestations[each.value].id}"

      pkix_public_key {
        public_key_pem      = data.google_kms_crypto_key_version.attestations[each.value].public_key[0].pem
        signature_algorithm = "ECDSA_P256_SHA256"
      }
    }
  }
}

# Sign with the environment's key: cloudkms.signer on that key alone.
resource "google_kms_crypto_key_iam_member" "attestations" {
  for_each = local.attestor_grants

  crypto_key_id = google_kms_crypto_key.attestations[each.value.environment].id
  role          = "roles/cloudkms.signer"
  member        = google_service_account.functions[each.value.function].member
}

# Attach occurrences to the environment's note alone ...
resource "google_container_analysis_note_iam_member" "attestations" {
  for_each = local.attestor_grants

  note   = google_container_analysis_note.attestations[each.value.environment].name
  role   = "roles/containeranalysis.notes.attacher"
  member = google_service_account.functions[each.value.function].member
}

# ... and create them: occurrences live in the project, so creating one is a project permission.
resource "google_project_iam_member" "attestation_occurrences" {
  for_each = local.attesting ? local.attesting_functions : toset([])

  project = var.project_id
  role    = "roles/containeranalysis.occurrences.editor"
  member  = google_service_account.functions[each.value].member
}

# An example policy for the project's own workloads (a Cloud Run service that sets
# `binary_authorization { use_default = true }`, or a GKE cluster with Binary Authorization on):
# an image runs only with the attestation of var.binauthz_required_attestor. Opt-in: "dryrun" first
# (refusals are only logged, in cloudaudit.googleapis.com/system_event), then "enforce". Break-glass:
# deploy with the annotation `run.googleapis.com/binary-authorization-breakglass` (Cloud Run) or the
# label `image-policy.k8s.io/break-glass: "true"` (GKE); it is logged, and the log is the alert.
resource "google_binary_authorization_policy" "example" {
  count = var.binauthz_enforcement == "off" ? 0 : 1

  description                   = "Images run only with Release Manager's ${var.binauthz_required_attestor} attestation."
  global_policy_evaluation_mode = "ENABLE"

  default_admission_rule {
    evaluation_mode         = "REQUIRE_ATTESTATION"
    enforcement_mode        = var.binauthz_enforcement == "enforce" ? "ENFORCED_BLOCK_AND_AUDIT_LOG" : "DRYRUN_AUDIT_LOG_ONLY"
    require_attestations_by = [google_binary_authorization_attestor.attestations[var.binauthz_required_attestor].name]
  }
}
