"""Exception types. Both subclass the built-in types users already catch."""


class DatasetError(ValueError):
    """A dataset folder or file is unusable; the message names it and says what to do."""


class ConfigError(ValueError):
    """A setting (parameter, profile entry, argument) is invalid; the message names it."""
