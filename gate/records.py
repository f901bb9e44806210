"""The ledger's records: what a venue's systems tell a gate.

These pydantic models are at once the exchange format (`docs/ledger-format.md`), what the
ledger stores, and what `gate.rules` decides on, so there is exactly one definition of each
record. They are frozen: the rules must never change what they are given.

Times: an instant (`datetime`) must carry its offset; a `date` is a calendar day in the
site's time zone unless a field says otherwise (a credit membership's expiry is a day in the
purchase location's zone).

Bounds: every number, instant, day and duration has a range the rules can compute with
(docs/ledger-format.md, "Bounds"), as pydantic's own constraints: a decision does not feel them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from gate.bounds import MAX_COUNT, MAX_DAYS, MAX_PRICE_CENTS, Count, Day, Days, Instant, Minutes, Persons, Version
from gate.staff import check_pin_hash

Weekday: TypeAlias = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Mode: TypeAlias = Literal["live", "test"]
State: TypeAlias = Literal["active", "revoked", "cancelled", "blocked", "frozen"]
Flag: TypeAlias = Literal["id_check", "child", "accessible"]
Direction: TypeAlias = Literal["entry", "exit"]
StaffRole: TypeAlias = Literal["steward", "supervisor"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$"
Id = Annotated[str, Field(pattern=_ID, description="A stable identifier from the venue's systems.")]


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]

MAX_REFERENCE = 256


def normalise_reference(text: str) -> str:
    """The form a reference is stored and looked up in: trimmed, inner blanks removed, upper case.

    Back offices print references in mixed case and with spaces for readability
    ("abc 123-x"); visitors' phones and scanners reproduce them inconsistently.
    """
    return "".join(text.split()).upper()


def reference_problem(reference: str) -> str | None:
    """What makes a normalised reference unusable, or None: one rule for imports and reads."""
    if not reference:
        return "empty"
    if len(reference) > MAX_REFERENCE:
        return f"too long ({len(reference)} characters, at most {MAX_REFERENCE})"
    if not reference.isprintable():
        return "contains control characters"
    return None


def _check_reference(text: str) -> str:
    reference = normalise_reference(text)
    if problem := reference_problem(reference):
        raise ValueError(f"a reference must be printable text of 1 to {MAX_REFERENCE} characters: {problem}")
    return reference


Reference = Annotated[str, AfterValidator(_check_reference)]


# The validation context of an import: checks that refuse a new line but must not refuse a
# record already stored (read back on every decision) run only with it.
IMPORT_CONTEXT: dict[str, bool] = {"import": True}

_EMAIL = re.compile(r"\S@\S")
_PHONE = re.compile(r"(?:\d[\s./()-]*){4}")


def refuse_contact_details(name: str) -> None:
    """Refuse a name that looks like an e-mail address or a phone number (four digits or more).

    The messages never repeat the name: they end up in logs and terminals."""
    if _EMAIL.search(name):
        raise ValueError("looks like an e-mail address: give a first name and initial")
    if _PHONE.search(name):
        raise ValueError("looks like a phone number: give a first name and initial")


def reduce_display_name(name: str) -> str:
    """First name and the initial of the last word: "Marie-Claire van Dijk" -> "Marie-Claire D."."""
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0].upper()}."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Record(_Model):
    """Every ledger record has an id and a version; a higher version replaces a lower one."""

    id: Id = Field(description="The record's identifier, unique within its type.")
    version: Version = Field(description="Increases with every change; older versions are ignored.")


# --- reusable parts -----------------------------------------------------------------------


class Period(_Model):
    """A validity period such as one year or 30 days."""

    years: int = Field(default=0, ge=0, le=100, description="Whole years.")
    months: int = Field(default=0, ge=0, le=1200, description="Whole months.")
    days: Days = Field(default=0, description="Whole days.")

    @model_validator(mode="after")
    def _bounded(self) -> Period:
        if not (self.years or self.months or self.days):
            raise ValueError("a period needs years, months or days")
        # 100 years together, a year counted as 365.25 days and a month as a twelfth of it.
        if self.years * 1461 * 12 + self.months * 1461 + self.days * 48 > MAX_DAYS * 48:
            raise ValueError("a period is at most 100 years (years, months and days together)")
        return self


class Window(_Model):
    """A weekly time window in local time, e.g. weekdays 09:00-12:00."""

    days: tuple[Weekday, ...] = Field(default=WEEKDAYS, description="Weekdays the window applies to.")
    opens: dt.time = Field(description="Local time the window opens (inclusive).")
    closes: dt.time = Field(description="Local time the window closes (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class Limit(_Model):
    """At most `count` entries (persons) per local-time period."""

    per: Literal["day", "week", "month", "season", "lifetime"] = Field(
        description="Period on local-time boundaries; a week starts on Monday."
    )
    count: Count = Field(description="Entries allowed per period.")


class Access(_Model):
    """Where and when an entitlement (or a benefit) admits, whatever its kind."""

    zones: tuple[Id, ...] | None = Field(default=None, description="Zones it admits to; none = all.")
    lanes: tuple[Id, ...] | None = Field(default=None, description="Lanes it admits at; none = all.")
    limits: tuple[Limit, ...] = Field(default=(), description="Use limits, all of which apply.")
    windows: tuple[Window, ...] = Field(
        default=(), description="Weekly windows it admits in; none = whenever the site is open."
    )
    blackout_dates: tuple[Day, ...] = Field(default=(), description="Local days it never admits.")
    anti_passback_minutes: Minutes | None = Field(
        default=None, ge=1, description="After an entry, no further entry for this many minutes."
    )
    exit_before_reentry: bool = Field(
        default=False, description="After an entry, the next entry needs an exit first."
    )

    @property
    def unrestricted(self) -> bool:
        """Admits anywhere, at any time the site is open, without limits: most benefits are
        so, and the rules then skip every check of it. (Not a cached_property: on an access
        parsed for one decision, its lock costs more than these few comparisons.)"""
        return (
            self.zones is None
            and self.lanes is None
            and not self.limits
            and not self.windows
            and not self.blackout_dates
            and self.anti_passback_minutes is None
            and not self.exit_before_reentry
        )


# Most entitlements and benefits restrict nothing: one shared instance is their default (a
# frozen model, so sharing is safe), which parsing a stored body without "access" returns
# as it is instead of building a new one per record.
UNRESTRICTED = Access()


# --- the venue: products, schedule, calendar ------------------------------------------------


def _check_display_name(name: str, info: ValidationInfo) -> str:
    """Reduced always; refused when it looks like contact details only at import, so a holder
    stored before the check still reads back (and a decision, which reads holders, pays nothing)."""
    if info.context is not None and info.context.get("import"):
        refuse_contact_details(name)
    return reduce_display_name(name)


class Holder(Record):
    """The person holding entitlements, known only by a reduced display name."""

    type: Literal["holder"] = "holder"
    display_name: Annotated[str, AfterValidator(_check_display_name)] = Field(
        max_length=200, description="Reduced on import to first name and initial."
    )
    photo: str | None = Field(default=None, max_length=256, description="An optional photo reference.")
    language: str | None = Field(
        default=None, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="The holder's preferred language (BCP 47: fr, pt-BR), so a screen can greet them in it.",
    )  # fmt: skip


class Product(Record):
    """Something a venue sells: an entry, a workshop, a membership product."""

    type: Literal["product"] = "product"
    name: str = Field(max_length=200, description="Name shown to visitors and staff.")
    price_cents: int = Field(default=0, ge=0, le=MAX_PRICE_CENTS, description="Price in the venue's currency, cents.")
    validity: Period | None = Field(default=None, description="Validity of memberships sold as this product.")


class Season(Record):
    """A season: the boundaries of per-season limits and of subscriptions."""

    type: Literal["season"] = "season"
    name: str = Field(max_length=200, description="Name shown to staff.")
    starts_on: Day = Field(description="First local day of the season.")
    ends_on: Day = Field(description="Last local day of the season (inclusive).")


class Event(Record):
    """A show or exhibition; its performances are separate records."""

    type: Literal["event"] = "event"
    name: str = Field(max_length=200, description="Name shown to visitors, e.g. 'Hamlet'.")
    season: Id | None = Field(default=None, description="The season it belongs to.")


class Performance(Record):
    """One performance (or time slot) of an event."""

    type: Literal["performance"] = "performance"
    event: Id = Field(description="The event it is a performance of.")
    starts_at: Instant = Field(description="Start, with its UTC offset.")
    zone: Id | None = Field(default=None, description="Zone it takes place in; none = any zone.")
    seat_categories: tuple[str, ...] = Field(default=(), description="Seat categories on sale.")
    tariffs: tuple[str, ...] = Field(default=(), description="Tariffs on sale (adult, child...).")
    opens_minutes_before: Minutes = Field(default=60, description="Admission opens this long before.")
    closes_minutes_after: Minutes = Field(default=30, description="Admission closes this long after.")


class Calendar(Record):
    """Opening hours and closed days of the site (zone = none) or of one zone."""

    type: Literal["calendar"] = "calendar"
    zone: Id | None = Field(default=None, description="The zone it governs; none = the whole site.")
    hours: tuple[Window, ...] = Field(description="Weekly opening hours.")
    closed_dates: tuple[Day, ...] = Field(default=(), description="Local days closed all day.")


class Key(Record):
    """A public key of the keyring (credentials, ledger batches, commands, staff badges)."""

    type: Literal["key"] = "key"
    purpose: Literal["credential", "ledger", "command", "staff"] = Field(description="What it verifies.")
    public_key: str = Field(max_length=128, description="Raw Ed25519 public key, base64.")
    valid_from: Instant | None = Field(default=None, description="Not valid before.")
    valid_until: Instant | None = Field(default=None, description="Not valid after.")


class Revocation(Record):
    """A revoked credential or entitlement id."""

    type: Literal["revocation"] = "revocation"
    reason: str = Field(default="", max_length=200, description="Why, for staff.")


def _check_staff_name(name: str) -> str:
    """A holder's rule for names, and more: a staff name is typed by hand (`gate staff pin`),
    so an e-mail address or a phone number in it is refused rather than stored as a "name"."""
    refuse_contact_details(name)
    reduced = reduce_display_name(name)
    if not reduced:
        raise ValueError("a name is required: first name and initial")
    return reduced


class Staff(Record):
    """A member of staff: a role, an optional PIN (as a hash), a name reduced to first name and initial."""

    type: Literal["staff"] = "staff"
    role: StaffRole = Field(description="steward, or supervisor (who may also override, void, set modes).")
    # Neither the name nor the hash shows in a repr, which may end up in a log.
    name: Annotated[str, AfterValidator(_check_staff_name)] = Field(
        max_length=200, repr=False, description="Reduced on import to first name and initial."
    )
    pin: Annotated[str, AfterValidator(check_pin_hash)] | None = Field(
        default=None, max_length=300, repr=False, description="The PIN's scrypt hash; none = badge only."
    )
    valid_until: Instant | None = Field(default=None, description="Neither PIN nor badge works after.")

    def valid_at(self, at: dt.datetime) -> bool:
        return self.valid_until is None or at <= self.valid_until


# --- entitlements ----------------------------------------------------------------------------


class EntryBenefit(_Model):
    """A membership benefit that admits, within its own access rules."""

    kind: Literal["entry"] = "entry"
    name: str = Field(default="", max_length=200, description="Shown to staff, e.g. 'Free entry'.")
    access: Access = Field(default=UNRESTRICTED, description="Where, when and how often.")


class DiscountBenefit(_Model):
    """A membership benefit shown at a kiosk; it never opens a lane."""

    kind: Literal["discount"] = "discount"
    name: str = Field(default="", max_length=200, description="Shown to kiosk users.")
    percent: int = Field(ge=1, le=100, description="Discount in percent.")
    products: tuple[Id, ...] = Field(default=(), description="Products it applies to; none = all.")


Benefit = Annotated[EntryBenefit | DiscountBenefit, Field(discriminator="kind")]


class _Entitlement(Record):
    type: Literal["entitlement"] = "entitlement"
    holder: Id | None = Field(default=None, description="Holder id; none for anonymous tickets.")
    product: Id | None = Field(default=None, description="Product it was sold as.")
    mode: Mode = Field(default="live", description="Live and test entitlements never mix.")
    state: State = Field(default="active", description="Anything but active refuses.")
    references: tuple[Reference, ...] = Field(
        default=(), max_length=32, description="Codes that find it (case and blanks ignored)."
    )
    flags: tuple[Flag, ...] = Field(
        default=(), description="id_check and child admit only with staff; accessible allows a longer passage."
    )
    access: Access = Field(default=UNRESTRICTED, description="Access rules for every use.")
    purchased_at: Instant | None = Field(default=None, description="Purchase instant.")


class Membership(_Entitlement):
    kind: Literal["membership"] = "membership"
    valid_from: Day = Field(description="First local day of validity.")
    expires_on: Day | None = Field(
        default=None, description="Last local day; computed from the product's validity when absent."
    )
    renews: Id | None = Field(default=None, description="The membership this one renews; its codes resolve here.")
    benefits: tuple[Benefit, ...] = Field(
        default=(EntryBenefit(),), description="Ordered; the first applicable entry right is applied."
    )


class CreditMembership(_Entitlement):
    kind: Literal["credit_membership"] = "credit_membership"
    credits: int = Field(ge=0, le=MAX_COUNT, description="Item credits bought.")
    eligible_products: tuple[Id, ...] = Field(min_length=1, description="Products a credit pays for.")
    purchased_at: Instant = Field(description="Purchase instant; validity starts here.")
    purchase_tz: TimeZoneName = Field(description="IANA zone of the purchase location.")
    expires_on: Day = Field(description="Valid until 23:59 on this day in purchase_tz.")


class Subscription(_Entitlement):
    kind: Literal["subscription"] = "subscription"
    season: Id | None = Field(default=None, description="The season it is for.")
    events: tuple[Id, ...] = Field(min_length=1, description="The shows it covers.")
    quantity: Persons = Field(description="Seats for each show, at any one of its performances.")


class ConfirmDeadline(_Model):
    days_after_booking: Days | None = Field(default=None, description="Days after the booking day.")
    days_before_event: Days | None = Field(default=None, description="Days before the performance day.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ConfirmDeadline:
        if (self.days_after_booking is None) == (self.days_before_event is None):
            raise ValueError("give exactly one of days_after_booking and days_before_event")
        return self


class Reservation(_Entitlement):
    kind: Literal["reservation"] = "reservation"
    performance: Id = Field(description="The performance booked.")
    pax: Persons = Field(default=1, description="Persons booked.")
    paid: bool = Field(default=False, description="Unpaid reservations are refused.")
    booked_at: Instant = Field(description="Booking instant.")
    confirm: ConfirmDeadline = Field(description="When an unpaid reservation is released.")
    extended_until: Instant | None = Field(default=None, description="A later deadline granted by staff.")


class RedemptionWindow(_Model):
    opens_days_before: Days | None = Field(default=None, description="Opens this many days before the start.")
    closes_days_before: Days | None = Field(default=None, description="Closes this many days before the start.")


class Voucher(_Entitlement):
    kind: Literal["voucher"] = "voucher"
    expires_on: Day | None = Field(default=None, description="Last local day it can be redeemed.")
    expires_after_days: Days | None = Field(default=None, description="Or: days after purchase.")
    window: RedemptionWindow = Field(default=RedemptionWindow(), description="Relative to the start.")
    events: tuple[Id, ...] = Field(default=(), description="Eligible events (all their performances).")
    performances: tuple[Id, ...] = Field(default=(), description="Eligible performances.")
    seat_categories: tuple[str, ...] = Field(default=(), description="Seat categories it buys; none = any.")
    tariffs: tuple[str, ...] = Field(default=(), description="Tariffs it buys; none = any.")
    bundle: Id | None = Field(default=None, description="The bundle it belongs to.")

    @model_validator(mode="after")
    def _consistent(self) -> Voucher:
        if self.expires_on is not None and self.expires_after_days is not None:
            raise ValueError("give at most one of expires_on and expires_after_days")
        if self.expires_after_days is not None and self.purchased_at is None:
            raise ValueError("expires_after_days needs purchased_at")
        if not (self.events or self.performances):
            raise ValueError("a voucher needs eligible events or performances")
        return self


class Slot(_Model):
    starts_at: Instant = Field(description="Slot start.")
    ends_at: Instant = Field(description="Slot end.")


class Ticket(_Entitlement):
    kind: Literal["ticket"] = "ticket"
    performance: Id | None = Field(default=None, description="For a performance.")
    slot: Slot | None = Field(default=None, description="Or for a time slot.")
    day: Day | None = Field(default=None, description="Or for a whole (local) day.")
    pax: Persons = Field(default=1, description="Persons one scan admits.")
    entries: Literal["single", "multiple"] = Field(default="single", description="Entries per person.")
    reentry: bool = Field(default=False, description="A single-entry ticket may re-enter after an exit.")
    opens_minutes_before: Minutes | None = Field(default=None, description="Overrides the performance's.")
    closes_minutes_after: Minutes | None = Field(default=None, description="Overrides the performance's.")
    seat_category: str | None = Field(default=None, description="Seat category, shown to staff.")
    tariff: str | None = Field(default=None, description="Tariff, shown to staff.")
    from_voucher: Id | None = Field(default=None, description="The voucher redeemed into this admission.")

    @model_validator(mode="after")
    def _one_validity(self) -> Ticket:
        given = sum(x is not None for x in (self.performance, self.slot, self.day))
        if given != 1:
            raise ValueError("give exactly one of performance, slot and day")
        return self


Entitlement = Annotated[
    Membership | CreditMembership | Subscription | Reservation | Voucher | Ticket,
    Field(discriminator="kind"),
]
EntitlementKind: TypeAlias = Literal[
    "membership", "credit_membership", "subscription", "reservation", "voucher", "ticket"
]

LedgerRecord = Annotated[
    Holder | Product | Season | Event | Performance | Calendar | Key | Revocation | Staff | Entitlement,
    Field(discriminator="type"),
]

RECORD_TYPES: tuple[str, ...] = (
    "holder", "product", "season", "event", "performance", "calendar", "key", "revocation", "staff",
    "entitlement",
)


class Tombstone(_Model):
    """A deletion: the record of that type and id is gone from this version on."""

    type: Literal[
        "holder", "product", "season", "event", "performance", "calendar", "key", "revocation", "staff",
        "entitlement",
    ] = Field(description="Type of the deleted record.")
    id: Id = Field(description="Id of the deleted record.")
    version: Version = Field(description="Version of the deletion.")
    deleted: Literal[True] = Field(description="Marks a tombstone.")


PERSONAL_DATA_KEYS = frozenset({"email", "e_mail", "mail", "phone", "telephone", "mobile", "address", "postal_address"})
