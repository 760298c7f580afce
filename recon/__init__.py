"""recon: reconcile Dynamics 365 contacts with Strivacity accounts.

``import recon`` is the notebook API; ``recon`` on the command line is the same API's CLI.
"""

from recon.errors import AuthError, ConfigError, HttpError, InputError, ReconError
from recon.fields import DEFAULT_FIELDS, Field, FieldMap, load_fields

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_FIELDS",
    "AuthError",
    "ConfigError",
    "Field",
    "FieldMap",
    "HttpError",
    "InputError",
    "ReconError",
    "load_fields",
]
