"""Domain exceptions. Each carries an HTTP status and a stable code; exactly two places translate
them: the Flask error handler (one JSON shape) and the CLI (one line on stderr)."""

from __future__ import annotations


class SearchsvcError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(SearchsvcError):
    """Input the caller can fix: a bad parameter, a malformed source file, a query over a limit."""

    status = 400
    code = "bad_request"


class NotFound(SearchsvcError):
    status = 404
    code = "not_found"


class Forbidden(SearchsvcError):
    status = 403
    code = "forbidden"


class IndexUnavailable(SearchsvcError):
    """No usable index generation (missing, corrupt, or of another schema version)."""

    status = 503
    code = "index_unavailable"


class IndexVersionMismatch(IndexUnavailable):
    code = "index_version_mismatch"


class LockTimeout(SearchsvcError):
    """Another writer held the index lock for longer than we were willing to wait."""

    status = 503
    code = "index_busy"


class SettingsError(SearchsvcError):
    """A ``SEARCHSVC_*`` setting that does not parse or is out of range: found at start, before serving."""

    code = "bad_setting"


class JobRefused(InputError):
    """A reindex or add that was refused before it changed anything (too many rejects, a shrink)."""

    code = "job_refused"


class ClusterFailed(SearchsvcError):
    """A reindex on a Dask cluster could not run or did not finish (no scheduler, a worker's error); nothing
    was published."""

    status = 503
    code = "cluster_failed"
