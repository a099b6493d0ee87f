"""User management: the /users pages, /account, and their services."""
