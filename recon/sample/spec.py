"""The sample's size and mix: a frozen options value and the record counts it implies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampleSpec:
    """What to generate.

    ``contacts``/``accounts`` are the total records per side (planted cases included;
    ``accounts=None`` means as many as contacts). Of the bulk contacts, ``overlap`` pair with an
    account, ``duplicates`` sit in duplicate groups of two (same share of the bulk accounts), and
    ``drift`` of the bulk pairs differ in one text field. ``linked`` of the bulk pairs carry the
    link; the rest pair by email alone.
    """

    contacts: int = 2000
    accounts: int | None = None
    seed: int = 0
    overlap: float = 0.8
    drift: float = 0.0
    duplicates: float = 0.0
    linked: float = 0.5

    def __post_init__(self) -> None:
        for name in ("overlap", "drift", "duplicates", "linked"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} is outside 0..1; pass a fraction such as 0.05.")
        if self.overlap + self.duplicates > 1.0:
            raise ValueError(f"overlap + duplicates = {self.overlap + self.duplicates} > 1; "
                             "lower one of them.")
        if self.contacts < 0 or (self.accounts or 0) < 0:
            raise ValueError("contacts and accounts must be positive counts.")

    @property
    def account_count(self) -> int:
        """Total accounts, defaulting to the number of contacts."""
        return self.contacts if self.accounts is None else self.accounts


@dataclass(frozen=True)
class Plan:
    """How many bulk people of each kind the spec asks for, besides the planted cases."""

    matched: int
    dynamics_only: int
    strivacity_only: int
    dynamics_groups: int
    strivacity_groups: int

    @classmethod
    def of(cls, spec: SampleSpec, case_contacts: int, case_accounts: int) -> Plan:
        """Split the bulk of each side; fails when the sizes cannot hold the planted cases."""
        bulk_c = spec.contacts - case_contacts
        bulk_a = spec.account_count - case_accounts
        if bulk_c < 0 or bulk_a < 0:
            raise ValueError(f"contacts={spec.contacts}, accounts={spec.account_count} cannot hold "
                             f"the {case_contacts} planted contacts and {case_accounts} planted "
                             "accounts; ask for more records.")
        groups_c = round(spec.duplicates * bulk_c / 2)
        groups_a = round(spec.duplicates * bulk_a / 2)
        matched = min(round(spec.overlap * bulk_c), bulk_c - 2 * groups_c, bulk_a - 2 * groups_a)
        return cls(matched, bulk_c - 2 * groups_c - matched, bulk_a - 2 * groups_a - matched,
                   groups_c, groups_a)
