"""A local HTTPS emulator of Entra ID, the Dataverse Web API and the Strivacity Admin API.

``Emulator`` serves all three on one loopback port with a throwaway CA, so the real msal and
requests can talk to it through ``AZURE_AUTHORITY_HOST`` and ``REQUESTS_CA_BUNDLE``.
"""

from recon.emulator.emulator import Emulator
from recon.emulator.faults import Faults, parse_faults

__all__ = ["Emulator", "Faults", "parse_faults"]
