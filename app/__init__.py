"""NPS TV: a real-time Net Promoter Score wall.

Nothing runs on import; build the web app with :func:`app.web.create_app`.
"""

__version__ = "0.1.0"
