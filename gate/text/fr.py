"""French texts: visitors get a few words they can act on, staff get the parameters."""

from __future__ import annotations

from gate.reasons import Reason
from gate.text.catalog import Args, Catalog, Entry, finish
from gate.text.compose import both, counted, credit_balance, dotted, labelled, partial_counts, performance, then
from gate.text.format import When, is_plural

_DESK = "adressez-vous à l'accueil"
_KINDS = {
    "membership": "adhésion",
    "credit_membership": "adhésion à crédits",
    "subscription": "abonnement",
    "reservation": "réservation",
    "voucher": "bon",
    "ticket": "billet",
}
_PER = {"day": "par jour", "week": "par semaine", "month": "par mois", "season": "par saison", "lifetime": "au total"}
_USED_IN = {"day": "aujourd'hui", "week": "cette semaine", "month": "ce mois-ci", "season": "cette saison"}


def _a(w: When) -> str:
    return f"à {w.text}" if w.is_time else f"le {w.text}"


def _from(w: When) -> str:
    return f"à partir de {w.text}" if w.is_time else f"à partir du {w.text}"


def _until(w: When) -> str:
    return f"jusqu'à {w.text}" if w.is_time else f"jusqu'au {w.text}"


def _for(a: Args) -> str:
    show = a.text("show")
    return f" pour {show}" if show else ""


def _balance(a: Args) -> str | None:
    if a.balance is None:
        return None
    if a.kind == "credit_membership":
        return counted(a, a.balance, "crédit restant", "crédits restants")
    if a.kind == "subscription":
        return counted(a, a.balance, "place restante", "places restantes")
    return f"solde {a.num(a.balance)}"


def _to_pay(a: Args) -> str | None:
    return f"{a.to_pay} à payer" if a.to_pay else None


# Ce qu'une borne dit de ce qui est pour les couloirs (un billet, sauf ce qui est nommé ici).
_SHOW_AT_ENTRANCE = {"membership": "votre carte de membre", "subscription": "votre abonnement"}
_FOR_THE_LANES = {"membership": "Adhésion", "subscription": "Abonnement"}


def _for_lanes(a: Args) -> str:
    return then(f"Présentez {_SHOW_AT_ENTRANCE.get(a.kind or '', 'ce billet')} à l'entrée", performance(a))


def _for_lanes_staff(a: Args) -> str:
    head = f"{_FOR_THE_LANES.get(a.kind or '', 'Billet')} pour les couloirs d'entrée, rien de consommé"
    return dotted(labelled(a, head, performance(a)), _balance(a))


def _welcome(a: Args) -> str:
    head = f"Bienvenue, {a.holder}" if a.holder else "Bienvenue"
    extras = []
    if a.admitted > 1:
        extras.append(f"entrée pour {a.num(a.admitted)}")
    if a.kind == "credit_membership" and (balance := _balance(a)):
        extras.append(balance)
    if to_pay := _to_pay(a):
        extras.append(to_pay)
    return then(head, ", ".join(extras) or None)


def _admitted(a: Args) -> str:
    head = f"{a.num(a.admitted)} admis" if a.admitted > 1 else "Admis"
    kind = _KINDS.get(a.kind or "")
    return dotted(head, a.holder, kind, a.text("show"), _balance(a), _to_pay(a))


def _partial(a: Args, staff: bool) -> str:
    admitted, asked, rest = partial_counts(a)
    missing = f"il manque {counted(a, rest, 'billet', 'billets')}" if rest is not None else None
    if not staff:
        others = "les autres ont besoin d'un billet"
        counts = f"{a.num(admitted)} sur {a.num(asked)}" if asked is not None else a.num(admitted)
        return then(f"Entrée pour {counts} — {missing or others}", _to_pay(a), ", ")
    head = f"Partiel : {a.num(admitted)} admis" + (f" sur {a.num(asked)}" if asked is not None else "")
    return then(then(head, missing, " ; "), _to_pay(a), " ; ")


def _not_yet_valid(a: Args, staff: bool) -> str:
    w = a.when("valid_from")
    if staff:
        return f"Pas encore valable : {_from(w)}" if w else "Pas encore valable"
    return f"Valable {_from(w)}" if w else "Pas encore valable"


def _expired(a: Args, staff: bool) -> str:
    w = a.when("expired_at")
    if w is None:
        return "Expiré"
    return f"Expiré {_a(w)}" if staff or w.is_time else f"Expiré le {w.date}"


def _closed(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Fermé ; ouverture {_a(w)}" if w else "Fermé ; prochaine ouverture inconnue"
    return f"Fermé — ouverture {_a(w)}" if w else "Fermé"


def _outside_window(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        return f"Hors de ses horaires ; de nouveau valable {_from(w)}" if w else "Hors de ses horaires"
    return f"Non valable à cette heure — valable {_from(w)}" if w else "Non valable à cette heure"


def _blackout(a: Args, staff: bool) -> str:
    d = a.day("day")
    if staff:
        return labelled(a, "Date exclue", d.text if d else None)
    if d is None:
        return "Non valable à cette date"
    return "Non valable aujourd'hui" if d.is_today else f"Non valable le {d.text}"


def _too_early(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    head = f"Trop tôt{_for(a)}"
    if w is None:
        return head
    return f"{head} : ouverture des entrées {_a(w)}" if staff else f"{head} — entrée {_from(w)}"


def _too_late(a: Args, staff: bool) -> str:
    w = a.when("closed_at")
    head = f"Trop tard{_for(a)}"
    if w is None:
        return head
    return f"{head} : entrées closes {_a(w)}" if staff else f"{head} — entrée fermée {_a(w)}"


def _already_used(a: Args) -> str:
    w = a.when("used_at")
    return f"Déjà utilisé {_a(w)}" if w else "Déjà utilisé"


def _limit(a: Args, staff: bool) -> str:
    per, count = a.text("per"), a.count("count")
    if not staff:
        return f"Déjà utilisé {_USED_IN[per]}" if per in _USED_IN else "Plus aucune entrée disponible"
    if count is not None:
        return then(f"Limite atteinte : {a.num(count)}", _PER.get(per or ""), " ")
    return then("Limite atteinte", f"({_PER[per]})" if per in _PER else None, " ")


def _passback(a: Args, staff: bool) -> str:
    w = a.when("until")
    if staff:
        return f"Anti-retour {_until(w)}" if w else "Anti-retour"
    return f"Vient d'être utilisé — réessayez {_a(w)}" if w else "Vient d'être utilisé — réessayez plus tard"


def _no_credit(a: Args, staff: bool) -> str:
    balance = credit_balance(a)
    if not balance:
        return then("Plus de crédits", f"(solde {a.num(balance)})" if staff and balance is not None else None, " ")
    if staff:
        return f"Crédits insuffisants : solde {a.num(balance)}"
    return f"Crédits insuffisants — {counted(a, balance, 'restant', 'restants')}"


def _show_used(a: Args, staff: bool) -> str:
    used, quantity, show = a.count("used"), a.count("quantity"), a.text("show")
    target = show or "ce spectacle"
    if used is None or quantity is None:
        return f"Toutes les places pour {target} sont utilisées"
    if staff:
        return f"Places d'abonnement pour {target} utilisées : {a.num(used)} sur {a.num(quantity)}"
    places, utilisees = ("places", "utilisées") if is_plural(used, "fr") else ("place", "utilisée")
    return f"{a.num(used)} {places} sur {a.num(quantity)} {utilisees} pour {target}"


def _unpaid(a: Args) -> str:
    w = a.when("deadline")
    return f"Réservation non payée ; à confirmer au plus tard {_a(w)}" if w else "Réservation non payée"


def _released(a: Args) -> str:
    w = a.when("deadline")
    return f"Réservation libérée ; délai de confirmation dépassé ({w.text})" if w else "Réservation libérée"


def _voucher_used(a: Args, staff: bool) -> str:
    w = a.when("used_at")
    head = f"Bon déjà {'échangé' if staff else 'utilisé'}{_for(a)}"
    if w is None:
        return head
    if staff:
        return f"{head} {_a(w)}"
    return f"{head} aujourd'hui" if w.is_time else f"{head} le {w.date}"


def _voucher_expired(a: Args) -> str:
    d = a.day("expired_on")
    return f"Bon expiré le {d.text}" if d else "Bon expiré"


def _redemption_not_open(a: Args, staff: bool) -> str:
    w = a.when("opens_at")
    if staff:
        head = f"Fenêtre d'échange{_for(a)}"
        return f"{head} : ouverture {_a(w)}" if w else f"{head} pas encore ouverte"
    return f"Échangeable{_for(a)} {_from(w)}" if w else "Pas encore échangeable"


def _redemption_closed(a: Args) -> str:
    w = a.when("closed_at")
    return then(f"Fenêtre d'échange{_for(a)} fermée", _a(w) if w else None, " ")


def _mismatch(a: Args, what: str, feminine: bool) -> str:
    # Both may be lists joined with commas, hence the semicolon between them.
    wanted, offered = a.text("wanted"), a.text("offered")
    parts = [f"bon pour {wanted}" if wanted else None, f"la séance propose {offered}" if offered else None]
    detail = " ; ".join(p for p in parts if p)
    return f"{what} : {detail}" if detail else f"{what} non correspondant{'e' if feminine else ''}"


def _override(a: Args) -> str:
    by, note = a.text("by"), a.text("note")
    return labelled(a, f"Dérogation par {by}" if by else "Dérogation du personnel", note)


_ENTRIES: Catalog = {
    Reason.OK: Entry(_welcome, _admitted),
    Reason.PARTIAL: both(_partial),
    Reason.EXIT: Entry("Au revoir", lambda a: labelled(a, "Sortie enregistrée", a.holder)),
    Reason.REDEEMED: Entry(
        lambda a: then("Bon échangé", performance(a)),
        lambda a: labelled(a, "Bon converti en billet", performance(a)),
    ),
    Reason.ID_CHECK: Entry(
        "Veuillez patienter — contrôle d'identité par le personnel",
        lambda a: labelled(a, "Contrôle d'identité requis", a.holder),
    ),
    Reason.CHILD: Entry(
        "Veuillez patienter — un membre du personnel va vous aider",
        lambda a: then("Enfant : vérifier l'âge ou l'adulte accompagnant", a.holder),
    ),
    Reason.UNREADABLE: Entry(
        "Code illisible — veuillez réessayer", lambda a: labelled(a, "Code illisible", a.text("detail"))
    ),
    Reason.UNKNOWN_CODE: Entry(f"Code inconnu — {_DESK}", "Code inconnu"),
    Reason.UNDECIDABLE: Entry(
        f"Code impossible à vérifier ici — {_DESK}",
        lambda a: labelled(a, "Données du code illisibles par les règles (voir le journal ; forcer si valable)",
                           a.text("detail")),
    ),
    Reason.FORGED: Entry(f"Code non valable — {_DESK}", "Signature du code invalide (falsifié ou abîmé)"),
    Reason.UNKNOWN_KEY: Entry(
        f"Code non valable — {_DESK}",
        lambda a: labelled(a, "Signé avec une clé inconnue de ce portique", a.text("key")),
    ),
    Reason.KEY_NOT_VALID: Entry(
        f"Code non valable — {_DESK}",
        lambda a: labelled(a, "Signé avec une clé non valable à cette date", a.text("key")),
    ),
    Reason.TEST_AT_LIVE_LANE: Entry(
        "Code de test — non valable pour l'entrée", "Titre de test sur un couloir en production"
    ),
    Reason.LIVE_AT_TEST_LANE: Entry(
        "Couloir en mode test — veuillez utiliser un autre couloir", "Titre réel sur un couloir en test"
    ),
    Reason.WRONG_ZONE: Entry(
        "Non valable pour cette zone",
        lambda a: f"Non valable dans la zone {z}" if (z := a.text("zone")) else "Mauvaise zone",
    ),
    Reason.WRONG_LANE: Entry(
        "Veuillez utiliser un autre couloir",
        lambda a: f"Non valable au couloir {x}" if (x := a.text("lane")) else "Mauvais couloir",
    ),
    Reason.FOR_LANES: Entry(_for_lanes, _for_lanes_staff),
    Reason.OFFLINE: Entry(
        f"Ce couloir ne peut pas vérifier ce code pour l'instant — {_DESK}",
        lambda a: f"Hors ligne depuis {a.num(a.count('minutes') or 0)} min : "
        f"{_KINDS.get(a.text('kind') or '', a.text('kind') or 'code')} à usage unique refusé (règle hors ligne)",
    ),
    Reason.LANE_CLOSED: Entry(
        "Couloir fermé — veuillez utiliser un autre couloir",
        lambda a: {"locked": "Couloir verrouillé", "out_of_order": "Couloir hors service"}.get(
            a.text("mode") or "", "Couloir fermé"
        ),
    ),
    Reason.KIOSK_ONLY: Entry("Échangez d'abord votre bon à la borne", "Bon à échanger d'abord à une borne"),
    Reason.REVOKED: Entry(f"Non valable — {_DESK}", "Révoqué"),
    Reason.CANCELLED: Entry(f"Annulé — {_DESK}", "Annulé"),
    Reason.BLOCKED: Entry(f"Bloqué — {_DESK}", "Bloqué"),
    Reason.FROZEN: Entry(f"Suspendu — {_DESK}", "Gelé"),
    Reason.NOT_YET_VALID: both(_not_yet_valid),
    Reason.EXPIRED: both(_expired),
    Reason.CLOSED: both(_closed),
    Reason.CLOSED_TODAY: Entry("Fermé aujourd'hui", "Jour de fermeture au calendrier"),
    Reason.OUTSIDE_WINDOW: both(_outside_window),
    Reason.BLACKOUT: both(_blackout),
    Reason.TOO_EARLY: both(_too_early),
    Reason.TOO_LATE: both(_too_late),
    Reason.NO_PERFORMANCE: Entry(
        "Aucune séance valable en ce moment", "Aucune séance valable pour ce titre en ce moment"
    ),
    Reason.WRONG_PERFORMANCE: Entry(
        "Valable pour une autre séance", lambda a: labelled(a, "Mauvaise séance", a.text("show"))
    ),
    Reason.IN_PROGRESS: Entry("Déjà ouvert — veuillez passer", "Passage en cours pour ce code"),
    Reason.ALREADY_USED: Entry(_already_used, _already_used),
    Reason.LIMIT_REACHED: both(_limit),
    Reason.ANTI_PASSBACK: both(_passback),
    Reason.EXIT_REQUIRED: Entry(
        "Aucune sortie enregistrée — adressez-vous au personnel",
        "Aucune sortie enregistrée depuis la dernière entrée",
    ),
    Reason.SITE_FULL: Entry(
        "Complet pour le moment — veuillez patienter", lambda a: labelled(a, "Capacité atteinte", a.text("capacity"))
    ),
    Reason.NO_ENTRY_BENEFIT: Entry(
        f"Non valable pour l'entrée — {_DESK}", "Adhésion sans droit d'entrée (réductions seulement)"
    ),
    Reason.NO_CREDIT: both(_no_credit),
    Reason.NOT_ELIGIBLE: Entry(
        lambda a: f"Non valable pour {p}" if (p := a.text("product")) else "Non valable pour ce produit",
        lambda a: labelled(a, "Produit non éligible", a.text("product")),
    ),
    Reason.SHOW_USED: both(_show_used),
    Reason.OTHER_PERFORMANCE: Entry(
        lambda a: f"Places pour {a.text('show') or 'ce spectacle'} déjà utilisées à une autre séance",
        lambda a: f"Places pour {a.text('show') or 'ce spectacle'} utilisées à une autre séance",
    ),
    Reason.UNPAID: Entry(f"Réservation non payée — {_DESK}", _unpaid),
    Reason.RESERVATION_RELEASED: Entry(f"Réservation expirée — {_DESK}", _released),
    Reason.VOUCHER_USED: both(_voucher_used),
    Reason.VOUCHER_EXPIRED: Entry(_voucher_expired, _voucher_expired),
    Reason.REDEMPTION_NOT_OPEN: both(_redemption_not_open),
    Reason.REDEMPTION_CLOSED: Entry(lambda a: f"Plus échangeable{_for(a)}", _redemption_closed),
    Reason.SEAT_CATEGORY: Entry(
        "Bon non valable pour cette catégorie de place", lambda a: _mismatch(a, "Catégorie de place", True)
    ),
    Reason.TARIFF: Entry("Bon non valable pour ce tarif", lambda a: _mismatch(a, "Tarif", False)),
    Reason.CHOOSE_PERFORMANCE: Entry("Veuillez choisir une séance", "Séance non choisie"),
    Reason.OVERRIDE: Entry(_welcome, _override),
}


def _typography(text: str) -> str:
    # French sets a space before ":" and ";"; a no-break one keeps the sign from starting a
    # line on a narrow screen.
    return text.replace(" :", "\u00a0:").replace(" ;", "\u00a0;")


CATALOG: Catalog = finish(_ENTRIES, _typography)
