"""Exception classes as a Django project defines them; used by the cases marked "app-raised"."""


class ExportError(Exception):
    pass


class SearchUnavailable(RuntimeError):
    pass


class QuotaExceeded(Exception):
    pass
