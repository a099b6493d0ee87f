"""Sites (issue 21): the warehouses of one deployment, who works in which, the current site."""
