"""Tools for developers and CI that are not part of the app."""
