"""Who the emulator's application user is and which privileges its security role grants.

``GET systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames(
PrivilegeNames=@p)?@p=["prvReadContact",...]`` answers as Dataverse does (``{"RolePrivileges":
[{"PrivilegeName", "PrivilegeId", "Depth", "BusinessUnitId"}]}``, the named privileges the user
holds through its roles and teams), so ``recon check`` can tell whether apply will be allowed to
create and write contacts. Tests narrow ``Dataverse.privileges`` to play a read-only role.
"""

from __future__ import annotations

import json
import re
import uuid

from recon.emulator.wire import ODATA_JSON, Request, Response, dataverse_error, json_response

APP_USER = str(uuid.UUID(int=1))  # the UserId WhoAmI answers
BUSINESS_UNIT = str(uuid.UUID(int=2))
#: What the emulator's application user holds by default: everything recon needs, org-wide.
DEFAULT_PRIVILEGES = {"prvReadContact": "Global", "prvCreateContact": "Global",
                      "prvWriteContact": "Global"}
_PRIVILEGES = re.compile(r"^systemusers\(([^)]*)\)/Microsoft\.Dynamics\.CRM\."
                         r"RetrieveUserSetOfPrivilegesByNames\(PrivilegeNames=@(\w+)\)$")


def user_privileges(segment: str, request: Request, privileges: dict[str, str],
                    base_url: str) -> Response | None:
    """The answer to a RetrieveUserSetOfPrivilegesByNames call; None if ``segment`` is not one."""
    match = _PRIVILEGES.match(segment)
    if match is None:
        return None
    if match.group(1).strip("'").lower() != APP_USER:
        return dataverse_error(404, "0x80040217",
                               f"systemuser With Id = {match.group(1)} Does Not Exist")
    try:
        names = json.loads(request.param("@" + match.group(2)) or "")
        if not isinstance(names, list):
            raise ValueError
    except ValueError:
        return dataverse_error(400, "0x80060888", f"The parameter alias @{match.group(2)} must "
                               "be a JSON array of privilege names.")
    rows = [{"Depth": privileges[name], "PrivilegeId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
             "BusinessUnitId": BUSINESS_UNIT, "PrivilegeName": name}
            for name in names if name in privileges]
    return json_response(200, {"@odata.context": f"{base_url}/api/data/v9.2/$metadata#"
                                                 "Microsoft.Dynamics.CRM."
                                                 "RetrieveUserSetOfPrivilegesByNamesResponse",
                               "RolePrivileges": rows}, ODATA_JSON)
