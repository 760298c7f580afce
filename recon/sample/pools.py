"""Value pools and the seeded record maker used by the planted cases.

Everything random comes from the generator handed in; the base date is fixed, so the same seed
gives the same records on any machine and day.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime, timedelta

from recon.sample.records import Account, Contact, Profile

#: The sample's "now": every timestamp lies before it.
BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 6 * 365 * 86400

GIVEN = ("Ada", "Ben", "Chloé", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kaia",
         "Liam", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq", "Uma",
         "Vera", "Wei", "Xena", "Yusuf", "Zoë", "Amara", "Bruno", "Carmen", "Dmitri", "Esther",
         "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Noor")
FAMILY = ("Abbott", "Becker", "Castro", "Dubois", "Eriksen", "Fischer", "García", "Hughes",
          "Ivanova", "Jensen", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Popescu",
          "Quintero", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga", "Walsh", "Xu", "Yilmaz",
          "Zimmermann", "Andersson", "Novák", "Haddad", "Okafor")
MIDDLE = ("Anne", "Marie", "James", "Lee", "Rose", "Paul", "Jean", "Ray")
STREETS = ("Main St", "Oak Ave", "Elm St", "Congress Ave", "Lamar Blvd", "Guadalupe St",
           "Cedar Ln", "Riverside Dr", "Hauptstraße", "Rue de Rivoli", "Váci utca", "High St")
#: (city, region, postal prefix, country), free text as Dynamics stores it.
PLACES = (("Austin", "TX", "787", "United States"), ("Seattle", "WA", "981", "United States"),
          ("Denver", "CO", "802", "United States"), ("Boston", "MA", "021", "United States"),
          ("Berlin", "Berlin", "101", "Germany"), ("München", "Bayern", "803", "Germany"),
          ("Paris", "Île-de-France", "750", "France"), ("Budapest", "Pest", "105", "Hungary"),
          ("London", "England", "SW1", "United Kingdom"), ("Toronto", "ON", "M5V", "Canada"))
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
#: Planted cases use their own domain, so their addresses never meet the bulk's.
CASE_DOMAIN = "cases.example.com"
LANGUAGES = ("en-US", "en-US", "en-US", "de-DE", "fr-FR", "hu-HU")


def ascii_local(name: str) -> str:
    """An email-safe ASCII local part of a name (``Zoë`` -> ``zoe``, ``O'Brien`` -> ``obrien``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def stamp(moment: datetime) -> str:
    """A UTC timestamp as ``YYYY-MM-DDTHH:MM:SS.mmm`` (records add the zone when rendered)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def uuid_from(bits: int) -> str:
    """A version-4 UUID string built from 128 random bits."""
    bits = (bits & ~(0xF << 76)) | (0x4 << 76)
    bits = (bits & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Maker:
    """Builds the planted records: fresh ids, plausible values, unique case addresses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0

    def uuid(self) -> str:
        """A fresh random id (contact GUID or account id)."""
        return uuid_from(self.rng.getrandbits(128))

    def profile(self, **values: str | None) -> Profile:
        """A full profile with a unique case address; ``values`` override any field."""
        self.count += 1
        rng = self.rng
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        city, region, postal, country = rng.choice(PLACES)
        base = Profile(
            email=f"{ascii_local(given)}.{ascii_local(family)}.case{self.count}@{CASE_DOMAIN}",
            given_name=given, family_name=family, middle_name=None,
            phone=f"+1512555{rng.randrange(10000):04d}",
            street=f"{rng.randrange(1, 999)} {rng.choice(STREETS)}", city=city, region=region,
            postal_code=f"{postal}{rng.randrange(100):02d}", country=country)
        return base._replace(**values)

    def times(self) -> tuple[str, str]:
        """Creation and a later modification time, both before ``BASE``."""
        created = BASE - timedelta(seconds=self.rng.randrange(86400 * 30, SPAN_SECONDS),
                                   milliseconds=self.rng.randrange(1000))
        updated = created + timedelta(seconds=self.rng.randrange((BASE - created).days * 86400))
        return stamp(created), stamp(updated)

    def contact(self, profile: Profile, **extra: object) -> Contact:
        """A contact holding ``profile``; ``extra`` sets Contact fields (active, email2, ...)."""
        created, updated = self.times()
        fields: dict = {"created": created, "updated": updated,
                        "version": self.rng.randrange(10**6, 10**7), **extra}
        return Contact(id=self.uuid(), profile=profile, **fields)

    def account(self, profile: Profile, **extra: object) -> Account:
        """An account holding ``profile``; ``extra`` sets Account fields (link, active, ...)."""
        created, updated = self.times()
        fields: dict = {"created": created, "updated": updated, **extra}
        return Account(id=self.uuid(), profile=profile, **fields)

    def linked(self, contact: Contact, profile: Profile | None = None,
               **extra: object) -> Account:
        """An account linked to ``contact``, holding ``profile`` (default: the same values)."""
        return self.account(profile or contact.profile, link=contact.id, **extra)
