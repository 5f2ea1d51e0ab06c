"""punchclock: a self-hostable accounts and authentication service speaking Toggl Track's API."""

__version__ = "0.1.0"
