"""gunicorn settings searchsvc needs, for ``searchsvc serve`` and for ``gunicorn -c python:searchsvc.gunicorn_conf
wsgi:app`` alike.

gunicorn refuses a request line over ``limit_request_line`` bytes with its own HTML 400 before the app
sees it. Its default, 4,094, is less than a query of MAX_QUERY_CHARS (500) Vietnamese characters takes
percent-encoded (up to 9 bytes each: ``%E1%BB%87``), so such a query would get gunicorn's page instead of
our JSON 400. 8,190 is the most gunicorn allows (short of 0, no limit): it holds a query of the largest
MAX_QUERY_CHARS the settings accept (800) with room for the other parameters. A longer request line still
gets gunicorn's 400 (docs/API.md).
"""

limit_request_line = 8190
