"""The one error of the data layer."""


class DataError(ValueError):
    """Bad input data; the message names the file(s) and the problem."""
