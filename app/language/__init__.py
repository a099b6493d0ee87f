"""The language switch in the navigation (issue 23)."""
