"""Names shared by configs, networks and executors."""


class Tasks:
    """The task a config trains for; values are the strings written to YAML."""

    CLASSIFICATION = "IMAGE.CLASSIFICATION"
    OBJECT_DETECTION = "IMAGE.OBJECT_DETECTION"

    ALL = (CLASSIFICATION, OBJECT_DETECTION)
