"""The one error of the data layer."""
from runtime.errors import ProjectError


class DataError(ProjectError, ValueError):
    """Bad input data; the message names the file(s) and the problem."""
