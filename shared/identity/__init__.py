"""Keyless sign-in: who an OIDC token or an Identity-Aware Proxy assertion speaks for.

- `shared.identity.trust`: the rules, as plain functions (which trust entries a token's verified
  claims match, which issuer URLs are admitted, how long an exchanged access token may live).
- `shared.identity.keys`: issuers' signing keys, fetched (OpenID discovery, JWK Sets) and cached.
- `shared.identity.oidc`: verification of a token against its issuer and of an IAP assertion.

Nothing is imported here, so importing one module does not pull in the others.
"""
