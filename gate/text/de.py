"""German texts: visitors get a few words they can act on, staff get the parameters."""

from __future__ import annotations

from gate.reasons import Reason
from gate.text.catalog import Args, Catalog, Entry
from gate.text.compose import both, counted, credit_balance, dotted, labelled, partial_counts, performance, then
from gate.text.format import When

_DESK = "bitte an der Kasse melden"
_KINDS = {
    "membership": "Mitgliedschaft",
    "credit_membership": "Mitgliedschaft mit Credits",
    "subscription": "Abonnement",
    "reservation": "Reservierung",
    "voucher": "Gutschein",
    "ticket": "Ticket",
}
_PER = {"day": "pro Tag", "week": "pro Woche", "month": "pro Monat", "season": "pro Saison", "lifetime": "insgesamt"}
_USED_IN = {"day": "Heute", "week": "Diese Woche", "month": "Diesen Monat", "season": "Diese Saison"}


def _at(w: When) -> str:
    return f"um {w.text}" if w.is_time else f"am {w.text}"


def _for(a: Args) -> str:
    show = a.text("show")
    return f" für {show}" if show else ""


def _balance(a: Args) -> str | None:
    if a.balance is None:
        return None
    if a.kind == "credit_membership":
        return f"noch {counted(a, a.balance, 'Credit', 'Credits')}"
    if a.kind == "subscription":
        return f"noch {counted(a, a.balance, 'Platz', 'Plätze')}"
    return f"noch {a.num(a.balance)}"


def _to_pay(a: Args) -> str | None:
    return f"{a.to_pay} zu zahlen" if a.to_pay else None


# Was ein Terminal über etwas für den Einlass sagt (eine Eintrittskarte, außer hier genannt).
_SHOW_AT_ENTRANCE = {"membership": "die Mitgliedskarte", "subscription": "das Abonnement"}
_FOR_THE_LANES = {"membership": "Mitgliedschaft", "subscription": "Abonnement"}


def _for_lanes(a: Args) -> str:
    return then(f"Bitte {_SHOW_AT_ENTRANCE.get(a.kind or '', 'dieses Ticket')} am Einlass vorzeigen", performance(a))


def _for_lanes_staff(a: Args) -> str:
    head = f"{_FOR_THE_LANES.get(a.kind or '', 'Eintrittskarte')} für den Einlass, nichts verbraucht"
    return dotted(labelled(a, head, performance(a)), _balance(a))


def _welcome(a: Args) -> str:
    head = f"Willkommen, {a.holder}" if a.holder else "Willkommen"
    extras = []
    if a.admitted > 1:
        extras.append(f"Einlass für {a.num(a.admitted)}")
    if a.kind == "credit_membership" and (balance := _balance(a)):
        extras.append(balance)
    if to_pay := _to_pay(a):
        extras.append(to_pay)
    return then(head, ", ".join(extras) or None)


def _admitted(a: Args) -> str:
    head = f"{a.num(a.admitted)} eingelassen" if a.admitted > 1 else "Eingelassen"
    kind = _KINDS.get(a.kind or "")
    return dotted(head, a.holder, kind, a.text("show"), _balance(a), _to_pay(a))


def _partial(a: Args, staff: bool) -> str:
    admitted, asked, rest = partial_counts(a)
    missing = None
    if rest is not None:
        missing = f"{counted(a, rest, 'Ticket fehlt', 'Tickets fehlen')}"
    counts = f"{a.num(admitted)} von {a.num(asked)}" if asked is not None else a.num(admitted)
    if not staff:
        return then(f"Einlass für {counts} — {missing or 'für die anderen fehlen Tickets'}", _to_pay(a), ", ")
    return then(then(f"Teilweise: {counts} eingelassen", missing, "; "), _to_pay(a), "; ")


def _not_yet_valid(a: Args, staff: bool) -> str:
    w = a.when("valid_from")
    if staff:
        return f"Noch nicht gültig: ab {w.text}" if w else "Noch nicht gültig"
    return f"Gültig ab {w.text}" if w else "Noch nicht gültig"


def _expired(a: Args, staff: bool) -> str:
    w = a.when("expired_at")
    if w is None:
        return "Abgelaufen"
    return f"Abgelaufen {_at(w)}" if staff or w.is_time else f"Abgelaufen am {w.date}"


def _closed(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Geschlossen; öffnet {_at(w)}" if w else "Geschlossen; nächste Öffnung unbekannt"
    return f"Geschlossen — öffnet {_at(w)}" if w else "Geschlossen"


def _outside_window(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Außerhalb der Gültigkeitszeiten; wieder gültig ab {w.text}" if w else "Außerhalb der Gültigkeitszeiten"
    return f"Zu dieser Zeit nicht gültig — gültig ab {w.text}" if w else "Zu dieser Zeit nicht gültig"


def _blackout(a: Args, staff: bool) -> str:
    d = a.day("day")
    if staff:
        return labelled(a, "Sperrtag", d.text if d else None)
    if d is None:
        return "An diesem Tag nicht gültig"
    return "Heute nicht gültig" if d.is_today else f"Am {d.text} nicht gültig"


def _too_early(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    head = f"Zu früh{_for(a)}"
    if w is None:
        return head
    return f"{head}: Einlass öffnet {_at(w)}" if staff else f"{head} — Einlass ab {w.text}"


def _too_late(a: Args, staff: bool) -> str:
    w = a.when("closed_at")
    head = f"Zu spät{_for(a)}"
    if w is None:
        return head
    return f"{head}{':' if staff else ' —'} Einlass endete {_at(w)}"


def _already_used(a: Args) -> str:
    w = a.when("used_at")
    return f"Bereits {_at(w)} genutzt" if w else "Bereits genutzt"


def _limit(a: Args, staff: bool) -> str:
    per, count = a.text("per"), a.count("count")
    if not staff:
        return f"{_USED_IN[per]} bereits genutzt" if per in _USED_IN else "Keine Eintritte mehr übrig"
    if count is not None:
        return then(f"Limit erreicht: {a.num(count)}", _PER.get(per or ""), " ")
    return then("Limit erreicht", f"({_PER[per]})" if per in _PER else None, " ")


def _passback(a: Args, staff: bool) -> str:
    w = a.when("until")
    if staff:
        return f"Anti-Passback bis {w.text}" if w else "Anti-Passback"
    return f"Gerade genutzt — wieder ab {w.text}" if w else "Gerade genutzt — bitte später erneut versuchen"


def _no_credit(a: Args, staff: bool) -> str:
    balance = credit_balance(a)
    if not balance:
        return then("Keine Credits mehr", f"(Saldo {a.num(balance)})" if staff and balance is not None else None, " ")
    return f"Nicht genug Credits: Saldo {a.num(balance)}" if staff else f"Nicht genug Credits — noch {a.num(balance)}"


def _show_used(a: Args, staff: bool) -> str:
    used, quantity, show = a.count("used"), a.count("quantity"), a.text("show")
    target = show or "diese Veranstaltung"
    if used is None or quantity is None:
        return f"Alle Plätze für {target} genutzt"
    if staff:
        return f"Abo-Plätze für {target} genutzt: {a.num(used)} von {a.num(quantity)}"
    # "von" takes the dative: "1 von 1 Platz", "2 von 2 Plätzen".
    seats = "Platz" if quantity == 1 else "Plätzen"
    return f"{a.num(used)} von {a.num(quantity)} {seats} für {target} genutzt"


def _unpaid(a: Args) -> str:
    w = a.when("deadline")
    return f"Reservierung unbezahlt; bestätigen bis {w.text}" if w else "Reservierung unbezahlt"


def _released(a: Args) -> str:
    w = a.when("deadline")
    return f"Reservierung freigegeben; Bestätigungsfrist abgelaufen ({w.text})" if w else "Reservierung freigegeben"


def _voucher_used(a: Args, staff: bool) -> str:
    w = a.when("used_at")
    if staff:
        return labelled(a, f"Gutschein bereits eingelöst{_for(a)}", _at(w) if w else None)
    when = "" if w is None else " heute" if w.is_time else f" am {w.date}"
    return f"Gutschein bereits{_for(a)}{when} eingelöst"


def _voucher_expired(a: Args, staff: bool) -> str:
    d = a.day("expired_on")
    if d is None:
        return "Gutschein abgelaufen"
    return f"Gutschein abgelaufen am {d.text}" if staff else f"Gutschein am {d.text} abgelaufen"


def _redemption_not_open(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        head = f"Einlösefenster{_for(a)}"
        return f"{head} öffnet {_at(w)}" if w else f"{head} noch nicht offen"
    return f"Einlösbar{_for(a)} ab {w.text}" if w else "Noch nicht einlösbar"


def _redemption_closed(a: Args) -> str:
    w = a.when("closed_at")
    return f"Einlösefenster{_for(a)} {_at(w)} geschlossen" if w else f"Einlösefenster{_for(a)} geschlossen"


def _mismatch(a: Args, what: str) -> str:
    # Both may be lists joined with commas, hence the semicolon between them.
    wanted, offered = a.text("wanted"), a.text("offered")
    parts = [f"Gutschein für {wanted}" if wanted else None, f"Vorstellung bietet {offered}" if offered else None]
    detail = "; ".join(p for p in parts if p)
    return f"{what}: {detail}" if detail else f"{what} passt nicht"


def _override(a: Args) -> str:
    by, note = a.text("by"), a.text("note")
    return labelled(a, f"Freigabe durch {by}" if by else "Manuelle Freigabe durch Personal", note)


CATALOG: Catalog = {
    Reason.OK: Entry(_welcome, _admitted),
    Reason.PARTIAL: both(_partial),
    Reason.EXIT: Entry("Auf Wiedersehen", lambda a: labelled(a, "Ausgang erfasst", a.holder)),
    Reason.REDEEMED: Entry(
        lambda a: then("Gutschein eingelöst", performance(a)),
        lambda a: labelled(a, "Gutschein in Eintrittskarte umgewandelt", performance(a)),
    ),
    Reason.ID_CHECK: Entry(
        "Bitte warten — das Personal prüft Ihren Ausweis", lambda a: labelled(a, "Ausweiskontrolle nötig", a.holder)
    ),
    Reason.CHILD: Entry(
        "Bitte warten — gleich hilft Ihnen jemand vom Personal",
        lambda a: then("Kind: Alter oder Begleitperson prüfen", a.holder),
    ),
    Reason.UNREADABLE: Entry(
        "Code nicht lesbar — bitte erneut versuchen", lambda a: labelled(a, "Code nicht lesbar", a.text("detail"))
    ),
    Reason.UNKNOWN_CODE: Entry(f"Code unbekannt — {_DESK}", "Unbekannter Code"),
    Reason.UNDECIDABLE: Entry(
        f"Code hier nicht prüfbar — {_DESK}",
        lambda a: labelled(a, "Daten des Codes nicht entscheidbar (siehe Protokoll; bei Gültigkeit freigeben)",
                           a.text("detail")),
    ),
    Reason.FORGED: Entry(f"Code ungültig — {_DESK}", "Signatur ungültig (gefälscht oder beschädigt)"),
    Reason.UNKNOWN_KEY: Entry(
        f"Code ungültig — {_DESK}", lambda a: labelled(a, "Mit einem unbekannten Schlüssel signiert", a.text("key"))
    ),
    Reason.KEY_NOT_VALID: Entry(
        f"Code ungültig — {_DESK}",
        lambda a: labelled(a, "Mit einem derzeit ungültigen Schlüssel signiert", a.text("key")),
    ),
    Reason.TEST_AT_LIVE_LANE: Entry(
        "Testcode — nicht gültig für den Einlass", "Testberechtigung an einem Durchgang im Echtbetrieb"
    ),
    Reason.LIVE_AT_TEST_LANE: Entry(
        "Durchgang im Testbetrieb — bitte einen anderen nutzen", "Echte Berechtigung an einem Durchgang im Testbetrieb"
    ),
    Reason.WRONG_ZONE: Entry(
        "Für diesen Bereich nicht gültig",
        lambda a: f"Im Bereich {z} nicht gültig" if (z := a.text("zone")) else "Falscher Bereich",
    ),
    Reason.WRONG_LANE: Entry(
        "Bitte einen anderen Durchgang nutzen",
        lambda a: f"Am Durchgang {x} nicht gültig" if (x := a.text("lane")) else "Falscher Durchgang",
    ),
    Reason.FOR_LANES: Entry(_for_lanes, _for_lanes_staff),
    Reason.OFFLINE: Entry(
        f"Dieser Durchgang kann den Code gerade nicht prüfen — {_DESK}",
        lambda a: f"Seit {a.num(a.count('minutes') or 0)} Min. offline: "
        f"{_KINDS.get(a.text('kind') or '', a.text('kind') or 'Code')} (einmalig gültig) nach der Offline-Regel "
        "abgelehnt",
    ),
    Reason.LANE_CLOSED: Entry(
        "Durchgang geschlossen — bitte einen anderen nutzen",
        lambda a: {"locked": "Durchgang gesperrt", "out_of_order": "Durchgang außer Betrieb"}.get(
            a.text("mode") or "", "Durchgang geschlossen"
        ),
    ),
    Reason.KIOSK_ONLY: Entry(
        "Bitte den Gutschein zuerst am Terminal einlösen", "Gutschein muss zuerst an einem Terminal eingelöst werden"
    ),
    Reason.REVOKED: Entry(f"Nicht gültig — {_DESK}", "Widerrufen"),
    Reason.CANCELLED: Entry(f"Storniert — {_DESK}", "Storniert"),
    Reason.BLOCKED: Entry(f"Gesperrt — {_DESK}", "Gesperrt"),
    Reason.FROZEN: Entry(f"Pausiert — {_DESK}", "Eingefroren"),
    Reason.NOT_YET_VALID: both(_not_yet_valid),
    Reason.EXPIRED: both(_expired),
    Reason.CLOSED: both(_closed),
    Reason.CLOSED_TODAY: Entry("Heute geschlossen", "Schließtag laut Kalender"),
    Reason.OUTSIDE_WINDOW: both(_outside_window),
    Reason.BLACKOUT: both(_blackout),
    Reason.TOO_EARLY: both(_too_early),
    Reason.TOO_LATE: both(_too_late),
    Reason.NO_PERFORMANCE: Entry("Derzeit keine gültige Vorstellung", "Keine passende Vorstellung läuft gerade"),
    Reason.WRONG_PERFORMANCE: Entry(
        "Gültig für eine andere Vorstellung", lambda a: labelled(a, "Falsche Vorstellung", a.text("show"))
    ),
    Reason.IN_PROGRESS: Entry("Bereits freigegeben — bitte durchgehen", "Durchgang für diesen Code läuft"),
    Reason.ALREADY_USED: Entry(_already_used, _already_used),
    Reason.LIMIT_REACHED: both(_limit),
    Reason.ANTI_PASSBACK: both(_passback),
    Reason.EXIT_REQUIRED: Entry(
        "Kein Ausgang erfasst — bitte an das Personal wenden", "Seit dem letzten Eintritt kein Ausgang erfasst"
    ),
    Reason.SITE_FULL: Entry(
        "Derzeit voll — bitte warten", lambda a: labelled(a, "Kapazität erreicht", a.text("capacity"))
    ),
    Reason.NO_ENTRY_BENEFIT: Entry(
        f"Nicht für den Einlass gültig — {_DESK}", "Mitgliedschaft ohne Eintrittsleistung (nur Rabatte)"
    ),
    Reason.NO_CREDIT: both(_no_credit),
    Reason.NOT_ELIGIBLE: Entry(
        lambda a: f"Nicht gültig für {p}" if (p := a.text("product")) else "Für dieses Produkt nicht gültig",
        lambda a: labelled(a, "Produkt nicht einlösbar", a.text("product")),
    ),
    Reason.SHOW_USED: both(_show_used),
    Reason.OTHER_PERFORMANCE: Entry(
        lambda a: f"Plätze für {a.text('show') or 'diese Veranstaltung'} bereits bei einer anderen Vorstellung genutzt",
        lambda a: f"Plätze für {a.text('show') or 'diese Veranstaltung'} bei einer anderen Vorstellung genutzt",
    ),
    Reason.UNPAID: Entry(f"Reservierung nicht bezahlt — {_DESK}", _unpaid),
    Reason.RESERVATION_RELEASED: Entry(f"Reservierung verfallen — {_DESK}", _released),
    Reason.VOUCHER_USED: both(_voucher_used),
    Reason.VOUCHER_EXPIRED: both(_voucher_expired),
    Reason.REDEMPTION_NOT_OPEN: both(_redemption_not_open),
    Reason.REDEMPTION_CLOSED: Entry(lambda a: f"Nicht mehr einlösbar{_for(a)}", _redemption_closed),
    Reason.SEAT_CATEGORY: Entry(
        "Gutschein nicht gültig für diese Platzkategorie", lambda a: _mismatch(a, "Platzkategorie")
    ),
    Reason.TARIFF: Entry("Gutschein nicht gültig für diesen Tarif", lambda a: _mismatch(a, "Tarif")),
    Reason.CHOOSE_PERFORMANCE: Entry("Bitte eine Vorstellung wählen", "Keine Vorstellung gewählt"),
    Reason.OVERRIDE: Entry(_welcome, _override),
}
