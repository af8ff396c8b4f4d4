"""Licences every organization starts with, as their publishers state them."""

STANDARD_LICENCES = [
    # key, name, allows_training, allows_commercial, requires_attribution, url
    (
        "CC0-1.0",
        "Creative Commons Zero v1.0 Universal",
        True,
        True,
        False,
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    (
        "CC-BY-4.0",
        "Creative Commons Attribution 4.0",
        True,
        True,
        True,
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    (
        "CC-BY-SA-4.0",
        "Creative Commons Attribution Share Alike 4.0",
        True,
        True,
        True,
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
    (
        "CC-BY-NC-4.0",
        "Creative Commons Attribution Non Commercial 4.0",
        True,
        False,
        True,
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ),
    (
        "CC-BY-ND-4.0",
        "Creative Commons Attribution No Derivatives 4.0",
        False,
        True,
        True,
        "https://creativecommons.org/licenses/by-nd/4.0/",
    ),
]
