"""Password blocklists, shipped as package data: what they hold is in README.md."""
