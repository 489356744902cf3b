"""What the cache holds, by namespace: one neutral place, so a service invalidates what another
concept caches (and the guard reads the caller's state) without importing that concept's service."""

USERS_NAMESPACE = "users"  # a user's state as the guard reads it, keyed by user id
API_TOKENS_NAMESPACE = "api_tokens"  # an API token as the guard reads it, keyed by prefix
RELEASE_LISTS_NAMESPACE = "releases"  # every page of the release list


def release_namespace(release_id: object) -> str:
    """One release's representation, with its deployment summary."""
    return f"release:{release_id}"
