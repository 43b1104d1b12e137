"""Names shared by configs, networks and executors."""


class Tasks:
    """The task a config trains for; values are the strings written to YAML."""

    CLASSIFICATION = "IMAGE.CLASSIFICATION"
    OBJECT_DETECTION = "IMAGE.OBJECT_DETECTION"

    ALL = (CLASSIFICATION, OBJECT_DETECTION)


def lookup(table, name, what):
    """``table[name]``, or a :class:`lmnet.errors.ConfigError` naming the unknown ``what`` and the known names."""
    if name not in table:
        from lmnet.errors import ConfigError
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(sorted(table))}")
    return table[name]
