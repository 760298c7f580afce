"""What the report calls things: plain-language labels, and what every reason means.

The run folder's names (``update_strivacity``, ``email_in_use``) stay the contract; people read
these labels beside them. A test keeps every review reason of ``recon.engine.pairing`` and every
drift reason of ``recon.engine.drift`` explained here.
"""

from __future__ import annotations

SIDES = {"dynamics": "Dynamics", "strivacity": "Strivacity"}
RECORDS = {"dynamics": "contacts", "strivacity": "accounts"}

FIELDS = {"email": "Email", "given_name": "Given name", "family_name": "Family name",
          "middle_name": "Middle name", "phone": "Mobile phone", "street": "Street",
          "city": "City", "region": "State or region", "postal_code": "Postal code",
          "country": "Country", "active": "Active / enabled"}

MATCH_TYPES = {
    "link": ("By link", "The account stores the contact's id ({link}): that pairs them, "
                        "whatever the emails say."),
    "email": ("By email", "Neither is linked, and exactly one contact and one account hold "
                          "this primary email."),
}

#: batch name: (label, what one line does)
BATCHES = {
    "migrate_to_strivacity": ("Create in Strivacity",
                              "a new account for an active contact that has none"),
    "create_in_dynamics": ("Create in Dynamics",
                           "a new contact for an enabled account that has none"),
    "update_dynamics": ("Update Dynamics",
                        "a contact's fields that Strivacity wins (one line per contact)"),
    "update_strivacity": ("Update Strivacity",
                          "one attribute of an account: a field Dynamics wins, or the link "
                          "written back (see below)"),
}

#: What happens to a difference; the names match the batches that carry it.
ACTIONS = {"update_dynamics": "Update Dynamics", "update_strivacity": "Update Strivacity",
           "report": "Only reported"}

#: review reason: (label, what it means and what to do)
REVIEW_REASONS = {
    "dangling_link": ("Link to a missing contact",
                      "The account stores a Dynamics contact id that no contact has. Fix or "
                      "clear the account's link."),
    "shared_link": ("Link shared by several accounts",
                    "Several accounts store the same contact id, so recon cannot tell which "
                    "one is that person. Keep the link on one account."),
    "missing_email": ("No email",
                      "The record has no primary email, so nothing pairs it. Add the email."),
    "invalid_email": ("Invalid email",
                      "The primary email is not a valid address, so it never pairs. Correct "
                      "it."),
    "duplicate_email": ("Duplicate email",
                        "Another record of the same system has this email (see Duplicate "
                        "groups). Merge or change the duplicates; they are never paired or "
                        "created."),
    "email_in_use": ("Email already paired",
                     "A record that is already paired by link (or held) has this email, so "
                     "pairing this one too would join two people. Check which is right."),
    "secondary_email_match": ("Matches a second email",
                              "A Dynamics-only contact's second or third email is the email of "
                              "a Strivacity-only account: probably one person, so neither is "
                              "created in the other system. Link or merge them."),
    "missing_required_field": ("Cannot be created in Dynamics",
                               "The account lacks a value Dynamics requires for a new contact "
                               "(the last name). Fill it in Strivacity."),
}

#: drift reason: (label, why the difference is reported and not written)
DRIFT_REASONS = {
    "duplicate_group": ("Duplicate record",
                        "A record of the pair shares its email with another record of its "
                        "system; resolve the duplicate first."),
    "winner_report": ("Report-only field",
                      "The field map says this field is reported, never written."),
    "no_newer_side": ("No newer side",
                      "The newer side wins this field, but both were changed at the same time "
                      "or a change time is missing."),
    "blank_winner": ("Winner is blank",
                     "The winning side is blank, and a blank never overwrites a value."),
    "unparseable_phone": ("Unreadable phone",
                          "The winning phone number cannot be read, so it is not written "
                          "(see problems.csv)."),
    "invalid_email": ("Invalid email",
                      "The winning email is not a valid address, so it is not written."),
    "not_writable": ("No Strivacity attribute",
                     "Dynamics wins, but the field has no Strivacity attribute to write to."),
    "email_in_use": ("Email used by another record",
                     "The winning email already belongs to another record of the other "
                     "system; writing it would make a duplicate."),
}


def field_label(name: str) -> str:
    """A mapped field's label; a field from a custom map reads as its name in words."""
    return FIELDS.get(name, name.replace("_", " ").capitalize())


def review_label(reason: str) -> str:
    return REVIEW_REASONS.get(reason, (reason, ""))[0]


def drift_label(reason: str) -> str:
    return DRIFT_REASONS.get(reason, (reason, ""))[0]
