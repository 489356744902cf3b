# Cloud Armor in front of every backend: the OWASP preconfigured rules, then per-client-IP rate
# limits. Lower priority numbers are evaluated first and the first match decides, so the deny rules
# come before the throttles (whose conforming requests are allowed at once).
#
# A new or changed deny rule goes in with `preview = true`: Cloud Armor then only logs what it
# would have denied (jsonPayload.previewSecurityPolicy in the load balancer's logs); flip it to
# false once the logs show no false positives (docs/deploy.md, "Cloud Armor").
locals {
  waf_rules = {
    1000 = { rule = "sqli-v33-stable", preview = false }
    1010 = { rule = "xss-v33-stable", preview = false }
    1020 = { rule = "lfi-v33-stable", preview = false }
    1030 = { rule = "rfi-v33-stable", preview = false }
    1040 = { rule = "rce-v33-stable", preview = false }
    1060 = { rule = "scannerdetection-v33-stable", preview = false }
    1070 = { rule = "protocolattack-v33-stable", preview = false }
    1080 = { rule = "sessionfixation-v33-stable", preview = false }
  }
  # Not methodenforcement-v33-stable: at sensitivity 1 it is CRS rule 911100, which admits only GET,
  # HEAD, POST and OPTIONS and so would deny every PUT, PATCH and DELETE of the API. Rule 1050 below
  # admits exactly the methods the API serves instead.
  api_methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

  # The endpoints that take a password or mint tokens (the API's, and the console's sign-in), matched on the path as the API routes it:
  # percent-decoded, lowercased, with repeated and trailing slashes (`//auth/login/`,
  # `/auth/%6cogin`, `/AUTH/login` all count).
  # The console's sign-in form takes a password too.
  credential_paths = "^/+(auth/+(login|register|refresh|tokens|me/+password)|console/+login)/*$"
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

  rule {
    action   = "deny(403)"
    priority = 1050
    preview  = true
    match {
      expr {
        expression = "!request.method.matches('^(${join("|", local.api_methods)})$')"
      }
    }
    description = "Only the methods the API serves"
  }

  # Credential guessing: a tighter limit per client IP on the endpoints that take a password or
  # mint tokens (the auth function also counts failures per account).
  rule {
    action   = "throttle"
    priority = 2000
    match {
      expr {
        expression = "request.method == 'POST' && request.path.urlDecode().lower().matches('${local.credential_paths}')"
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
    description = "Per-IP limit on login, register, refresh, password change and token creation"
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
      preview  = rule.value.preview
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value.rule}', {'sensitivity': 1})"
        }
      }
      description = "OWASP: ${rule.value.rule}"
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
