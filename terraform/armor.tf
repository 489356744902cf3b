# Cloud Armor in front of every backend: the OWASP preconfigured rules, then per-client-IP rate
# limits. Lower priority numbers are evaluated first and the first match decides, so the deny rules
# come before the throttles (whose conforming requests are allowed at once).
locals {
  waf_rules = {
    1000 = "sqli-v33-stable"
    1010 = "xss-v33-stable"
    1020 = "lfi-v33-stable"
    1030 = "rfi-v33-stable"
    1040 = "rce-v33-stable"
    1050 = "methodenforcement-v33-stable"
    1060 = "scannerdetection-v33-stable"
    1070 = "protocolattack-v33-stable"
    1080 = "sessionfixation-v33-stable"
  }
}

resource "google_compute_security_policy" "main" {
  name        = local.name
  description = "Release Manager edge policy (${var.environment})"
  type        = "CLOUD_ARMOR"

  advanced_options_config {
    # Inspect JSON bodies as JSON, so the WAF rules see field values rather than raw text.
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  # Log4Shell probes (CVE-2021-44228), whatever the backend is written in.
  rule {
    action   = "deny(403)"
    priority = 990
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
    description = "CVE-2021-44228 (Log4Shell) probes"
  }

  # Credential guessing: a tighter limit per client IP on the endpoints that take a password or
  # mint tokens (the auth function also counts failures per account).
  rule {
    action   = "throttle"
    priority = 2000
    match {
      expr {
        expression = "request.path.matches('^/auth/(login|register|refresh)$')"
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.login_rate_limit_per_minute
        interval_sec = 60
      }
    }
    description = "Per-IP limit on login, register and refresh"
  }

  rule {
    action   = "throttle"
    priority = 2100
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
    }
    description = "Per-IP limit on every request"
  }

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      action   = "deny(403)"
      priority = rule.key
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}', {'sensitivity': 1})"
        }
      }
      description = "OWASP: ${rule.value}"
    }
  }

  rule {
    action   = "allow"
    priority = 2147483647
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    description = "Everything the rules above let through"
  }
}
