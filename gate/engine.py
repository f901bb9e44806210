"""The decision path: a read on a lane at a time becomes a decision, and an admit a held redemption.

The engine is the one place that gathers a `Situation` from the ledger and hands it to the
pure rules, so the CLI, the lane and (later) the screens share one path. Decisions are
serialised under one lock: two readers on a lane cannot both admit a single-use code, since
the first one's hold is in the ledger before the second is decided.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, replace

from gate import rules
from gate.cache import Ledger, LedgerError
from gate.config import GateConfig
from gate.credentials import CredentialError, SignedRead, Unreadable, claim_of, entitlement_of, verify
from gate.decision import Ask, Decision, Lane, Site, Situation, Use
from gate.errors import GateError
from gate.reasons import Reason, Verdict
from gate.records import CreditMembership, Direction, Entitlement, Flag, Holder, Membership

log = logging.getLogger("gate.engine")

PLAIN = Ask()  # an entry asking for what the entitlement allows at once


class UnknownLane(GateError, LookupError):
    def __init__(self, lane: str, known: list[str]) -> None:
        super().__init__(f"unknown lane {lane!r} (lanes: {', '.join(known)})")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision and, when it was recorded, the redemption it opened."""

    decision: Decision
    reference: str | None
    redemption: str | None = None
    flags: tuple[Flag, ...] = ()  # of the entitlement decided on: the lane times an accessible passage longer
    decision_id: str | None = None  # the journal row that recorded the decision (an admit's: its redemption)
    language: str | None = None  # the holder's preferred language, if the ledger has it (for the screens)


class Engine:
    """Decides reads for the lanes of one site against one ledger."""

    def __init__(self, ledger: Ledger, config: GateConfig) -> None:
        self.ledger = ledger
        self.config = config
        self.tz = config.site.tz
        self._lock = threading.Lock()
        self._site = Site(
            tz=self.tz,
            capacity=config.site.capacity,
            zero_price_takes_credit=config.engine.zero_price_takes_credit,
        )
        self._lanes = {
            lane_id: Lane(id=lane_id, zone=lane.zone, mode=lane.mode, kiosk=lane.kiosk, product=lane.product)
            for lane_id, lane in config.lanes.items()
        }
        self.offline_since: float | None = None  # epoch seconds since the sync link is down (the daemon sets it)
        self.clock_untrusted = False  # the daemon's clock says so (gate/daemon/clock.py)

    def lane(self, lane_id: str) -> Lane:
        try:
            lane = self._lanes[lane_id]
        except KeyError:
            raise UnknownLane(lane_id, sorted(self._lanes)) from None
        if self.clock_untrusted:
            lane = replace(lane, clock_untrusted=True)
        if self.offline_since is None:
            return lane
        # Cut off from the site: how long enters the decision, with the kinds the policy refuses by now.
        offline_s = max(0.0, time.time() - self.offline_since)
        refuses = frozenset(kind for kind, after in self.config.sync.offline.refuse.items() if offline_s >= after)
        return replace(lane, offline_s=offline_s, offline_refuses=refuses)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(self._lanes.values())

    def decide(
        self, read: str | bytes, *, lane: str, at: dt.datetime, ask: Ask = PLAIN, logged: bool = True,
        closed: str | None = None,
    ) -> Outcome:  # fmt: skip
        """One decision, recorded nowhere (what `gate check` without --commit shows).

        `logged=False` for a decision nobody acts on (a kiosk weighing its options); `closed`
        as for `admit` (a lane in a storage fault decides so, and journals once it can).
        """
        with self._lock:
            outcome = self._decide(read, self.lane(lane), at, ask) if closed is None else self._closed(read, closed, at)
        if logged:
            log_decision(lane, outcome)
        return outcome

    def entitlement(self, entitlement_id: str | None) -> Entitlement | None:
        """The record a decision named (None for a decision about no entitlement)."""
        found = self.ledger.entitlements([entitlement_id]) if entitlement_id else []
        return found[0] if found else None

    def admit(
        self, read: str | bytes, *, lane: str, at: dt.datetime, ask: Ask = PLAIN, logged: bool = True,
        closed: str | None = None,
    ) -> Outcome:  # fmt: skip
        """Decide and, for an admit, hold the redemption; a refusal is journaled.

        Used by a lane before it opens: the hold counts as a use until `commit` or `release`.
        An attention verdict holds nothing: staff decide first. Decision and record share
        one write transaction, so lanes of other processes on this ledger wait their turn.
        `logged=False` leaves the decision's log line to the caller: a lane writes it once
        the relay has pulsed, since a line costs the visitor tens of microseconds.
        `closed` is the mode of a lane that admits nobody (locked, out of order): the read is
        refused `lane_closed` before its own rules are asked, its reference still resolved
        for the journal.
        """
        where = self.lane(lane)
        with self._lock, self.ledger.recording(durable=False):
            decided = self._decide(read, where, at, ask) if closed is None else self._closed(read, closed, at)
            outcome = self._record(decided, where, at, hold_only=True, direction=ask.direction)
        if logged:
            log_decision(lane, outcome)
        return outcome

    def redeem(self, read: str | bytes, *, lane: str, at: dt.datetime, ask: Ask = PLAIN) -> Outcome:
        """Decide and record at once, as if everyone admitted went through (`gate check --commit`)."""
        where = self.lane(lane)
        with self._lock:
            with self.ledger.recording():
                outcome = self._decide(read, where, at, ask)
                if outcome.decision.verdict is Verdict.ADMIT:
                    outcome = self._record(outcome, where, at, hold_only=False)
            if outcome.redemption is None:
                # A refusal waits for no fsync: journaled in a transaction of its own.
                outcome = self._record(outcome, where, at, hold_only=False)
        log_decision(lane, outcome)
        return outcome

    def commit(self, redemption: str, *, at: dt.datetime, passed: int | None = None) -> None:
        with self._lock:
            self.ledger.commit(redemption, passed=passed, at=at)
        log.info("commit redemption=%s passed=%s", redemption, "all" if passed is None else passed)

    def journal_refusal(self, outcome: Outcome, *, lane: str, at: dt.datetime, direction: Direction) -> str:
        """Journal a refusal decided earlier (by `decide`, while the ledger could not be written)."""
        with self._lock:
            return self._record(outcome, self.lane(lane), at, hold_only=True, direction=direction).decision_id or ""

    def release(self, redemption: str, *, at: dt.datetime, why: str) -> None:
        with self._lock:
            self.ledger.release(redemption, at=at, why=why)
        log.info("release redemption=%s why=%s", redemption, why)

    # -- internals -------------------------------------------------------------------------

    def _record(
        self, outcome: Outcome, lane: Lane, at: dt.datetime, *, hold_only: bool, direction: Direction = "entry"
    ) -> Outcome:
        decision, reference = outcome.decision, outcome.reference or ""
        if decision.verdict is Verdict.ADMIT:
            if hold_only:
                redemption = self.ledger.hold(decision, lane=lane, reference=reference, at=at)
            else:
                redemption = self.ledger.redeem(decision, lane=lane, reference=reference, at=at)
            return replace(outcome, redemption=redemption, decision_id=redemption)
        event_id = self.ledger.refuse(decision, lane=lane, reference=reference, at=at, direction=direction)
        return replace(outcome, decision_id=event_id)

    def _closed(self, read: str | bytes, mode: str, at: dt.datetime) -> Outcome:
        """A read at a closed lane: refused before the code's own reason, its reference kept for the journal."""
        claim = claim_of(read)
        reference = claim if isinstance(claim, str) else None  # a signed or unreadable read names no reference
        entitlement_id = None
        with self.ledger.snapshot():
            if reference is not None:
                found = self.ledger.resolve(reference)
                entitlement_id = found[0] if len(found) == 1 else None
            elif isinstance(claim, SignedRead):  # the credential's entitlement, once its signature checks out
                signed = self._signed(claim, at)
                entitlement_id = signed.entitlement_id if isinstance(signed, Decision) else signed[0]
        decision = Decision(Verdict.DENY, Reason.LANE_CLOSED, {"mode": mode}, entitlement_id=entitlement_id)
        return Outcome(decision, reference)

    def _decide(self, read: str | bytes, lane: Lane, at: dt.datetime, ask: Ask) -> Outcome:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a decision time must carry its time zone")
        with self.ledger.snapshot():
            try:
                return self._decide_in_snapshot(read, lane, at, ask)
            except LedgerError:
                raise  # the storage's, not the code's: the lane's storage fault handles it
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                # A stored record the rules cannot decide on (a body older than today's bounds,
                # a bug): the visitor still gets an answer, and the log has the traceback.
                log.exception("decision lane=%s: the code's records cannot be decided on", lane.id)
                claim = claim_of(read)
                decision = Decision(Verdict.DENY, Reason.UNDECIDABLE, {"detail": type(exc).__name__})
                return Outcome(decision, claim if isinstance(claim, str) else None)

    def _decide_in_snapshot(self, read: str | bytes, lane: Lane, at: dt.datetime, ask: Ask) -> Outcome:
        claim = claim_of(read)
        if isinstance(claim, Unreadable):
            return Outcome(Decision(Verdict.DENY, Reason.UNREADABLE, {"detail": claim.detail}), None)
        if isinstance(claim, SignedRead):
            found = self._signed(claim, at)
            if isinstance(found, Decision):
                return Outcome(found, None)
            reference, entitlements = found
            holder_id = entitlements[0].holder
            holder = self.ledger.holder(holder_id) if holder_id else None
        else:
            reference, (entitlements, holder) = claim, self._entitlements(claim)
        decision = rules.decide(self.situation(entitlements, holder, lane, at, ask))
        flags = next((e.flags for e in entitlements if e.id == decision.entitlement_id), ())
        return Outcome(decision, reference, flags=flags, language=holder.language if holder is not None else None)

    def situation(
        self, entitlements: tuple[Entitlement, ...], holder: Holder | None, lane: Lane, at: dt.datetime, ask: Ask
    ) -> Situation:
        """What the rules see of these entitlements here and now (inside a ledger snapshot)."""
        schedule = self.ledger.schedule()
        uses: tuple[Use, ...] = ()
        if entitlements:
            since = rules.history_since(entitlements, at=at, tz=self.tz, seasons=schedule.seasons)
            uses = self.ledger.uses(rules.use_sources(entitlements), since=since)
        return Situation(
            entitlements=entitlements,
            holder=holder,
            uses=uses,
            schedule=schedule,
            lane=lane,
            site=self._site if self._site.capacity is None else replace(self._site, inside=self.ledger.inside()),
            at=at,
            ask=ask,
        )

    def _signed(self, claim: SignedRead, at: dt.datetime) -> tuple[str, tuple[Entitlement, ...]] | Decision:
        """The entitlement a signed credential stands for: the ledger's record once it has one."""
        try:
            credential = verify(claim.text, self.ledger.keys("credential"), at)
        except CredentialError as exc:
            log.info("credential refused reason=%s detail=%s", exc.reason, exc)
            return Decision(Verdict.DENY, exc.reason, exc.params)
        entitlement_id = credential.entitlement_id
        if self.ledger.is_revoked(entitlement_id):
            return Decision(Verdict.DENY, Reason.REVOKED, entitlement_id=entitlement_id, kind=credential.kind)
        known = self.ledger.entitlements([entitlement_id])
        return entitlement_id, tuple(known) if known else (entitlement_of(credential, self.tz),)

    def _entitlements(self, reference: str) -> tuple[tuple[Entitlement, ...], Holder | None]:
        """What a code stands for in a decision, and the holder of the first of them."""
        found, holder = self.ledger.holding(reference)
        if any(isinstance(e, Membership) and e.renews for e in found):
            found = self._with_renewed(found)  # the code's own come first: the holder stays theirs
        credit_holders = {e.holder for e in found if isinstance(e, CreditMembership) and e.holder}
        if not credit_holders:
            return tuple(found), holder
        # Credits are a pool: the holder's other credit memberships take part first-in-first-out.
        seen = {e.id for e in found}
        pool = [m for h in sorted(credit_holders) for m in self.ledger.credit_memberships_of(h) if m.id not in seen]
        return (*found, *pool), holder

    def _with_renewed(self, found: list[Entitlement]) -> list[Entitlement]:
        """A renewal bought early must not lock out the membership it renews: the renewed ones
        follow as later candidates (the rules admit on the first that admits, and show the
        newest one's refusal when none does)."""
        ids = [e.id for e in found]
        for entitlement in list(found):
            if isinstance(entitlement, Membership) and entitlement.renews:
                ids.extend(i for i in self.ledger.lineage(entitlement.id)[1:] if i not in ids)
        return self.ledger.entitlements(ids)


def log_decision(lane: str, outcome: Outcome) -> None:
    """The decision's INFO line: ids and codes only, never the holder's name."""
    if log.isEnabledFor(logging.INFO):
        decision = outcome.decision
        log.info(
            "decision lane=%s verdict=%s reason=%s entitlement=%s admitted=%d redemption=%s",
            lane,
            decision.verdict,
            decision.reason,
            decision.entitlement_id or "-",
            decision.admitted,
            outcome.redemption or "-",
        )
