"""Accounts, sessions and API tokens: the rules, free of HTTP, by concern in `accounts`, `sessions`
and `api_tokens`; the auth function's views (and the operator commands) reach them here."""

from shared.auth.accounts import (
    NewAccount,
    change_password,
    create_account,
    get_user,
    list_users,
    register,
    update_user,
    whoami,
)
from shared.auth.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from shared.auth.sessions import login, logout, refresh

__all__ = [
    "NewAccount",
    "change_password",
    "create_account",
    "create_api_token",
    "get_user",
    "list_api_tokens",
    "list_users",
    "login",
    "logout",
    "refresh",
    "register",
    "revoke_api_token",
    "update_user",
    "whoami",
]
