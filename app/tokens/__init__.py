"""/account/tokens: a user's API tokens (made, shown once, listed, revoked); the rules are in
app/auth/tokens.py."""
