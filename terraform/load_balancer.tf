# One HTTPS origin for the three functions, the same shape as `make dev`:
# /auth/* -> auth, /releases/* -> releases, /health -> health. Each function strips its own mount.

resource "google_compute_region_network_endpoint_group" "main" {
  for_each = var.functions

  name                  = "${local.name}-${each.key}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  # A 2nd gen function is a Cloud Run service of the same name. Named, not referenced: the
  # functions read their backend service's id (IAP_AUDIENCE), so the NEG must not depend on them.
  cloud_run {
    service = "${local.name}-${each.key}"
  }
}

resource "google_compute_backend_service" "main" {
  for_each = var.functions

  name                  = "${local.name}-${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.main.id

  backend {
    group = google_compute_region_network_endpoint_group.main[each.key].id
  }

  # Opt-in (var.iap_enabled, iap.tf): Identity-Aware Proxy in front of the function, with a
  # Google-managed OAuth client; the API then takes the user from x-goog-iap-jwt-assertion.
  dynamic "iap" {
    for_each = var.iap_enabled ? [true] : []
    content {
      enabled = true
    }
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "https" {
  name = "${local.name}-https"
  # Any other host or path reaches the health function, which answers 404 problem+json for every
  # path but its own.
  default_service = google_compute_backend_service.main["health"].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "functions"
  }

  path_matcher {
    name            = "functions"
    default_service = google_compute_backend_service.main["health"].id

    dynamic "path_rule" {
      for_each = var.functions
      content {
        paths   = ["/${path_rule.key}", "/${path_rule.key}/*"]
        service = google_compute_backend_service.main[path_rule.key].id
      }
    }

    # The site's root is the console, as `make dev` serves it.
    path_rule {
      paths = ["/"]
      url_redirect {
        path_redirect          = "/console/"
        redirect_response_code = "FOUND"
        strip_query            = true
      }
    }
  }
}

resource "google_compute_managed_ssl_certificate" "main" {
  name = "${local.name}-${replace(var.domain, ".", "-")}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "main" {
  name            = local.name
  profile         = "RESTRICTED"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "main" {
  name             = local.name
  url_map          = google_compute_url_map.https.id
  ssl_certificates = [google_compute_managed_ssl_certificate.main.id]
  ssl_policy       = google_compute_ssl_policy.main.id
}

resource "google_compute_global_address" "load_balancer" {
  name = "${local.name}-lb"
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "${local.name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.load_balancer.id
  port_range            = "443"
  target                = google_compute_target_https_proxy.main.id
}

# Plain HTTP only redirects to HTTPS.
resource "google_compute_url_map" "http_redirect" {
  name = "${local.name}-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "main" {
  name    = "${local.name}-http-redirect"
  url_map = google_compute_url_map.http_redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "${local.name}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.load_balancer.id
  port_range            = "80"
  target                = google_compute_target_http_proxy.main.id
}
