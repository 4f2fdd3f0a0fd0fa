"""Random sequences of ledger operations, with repeated keys, against a model in Python."""

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import User
from billing import ledger
from billing.models import LedgerEntry

_people = itertools.count()

amounts = st.integers(min_value=1, max_value=60)
operations = st.one_of(
    st.tuples(st.sampled_from(["grant", "purchase", "charge", "refund", "clawback"]), amounts),
    st.tuples(st.just("adjust"), st.integers(min_value=-60, max_value=60).filter(bool)),
)
# Few keys, so conflicting reuses are frequent; the boolean posts a step twice in a row,
# the way a retried task or a double click does.
steps = st.lists(st.tuples(operations, st.integers(min_value=0, max_value=6), st.booleans()), max_size=25)

SIGNED_KIND = {
    "grant": ("grant", 1),
    "purchase": ("purchase", 1),
    "charge": ("charge", -1),
    "refund": ("refund", 1),
    "clawback": ("clawback", -1),
    "adjust": ("adjustment", 1),
}


def _post(op: str, user, amount: int, key: str, staff):
    if op == "grant":
        return ledger.grant(user, amount, key=key)
    if op == "purchase":
        return ledger.credit_purchase(user, amount, key=key, purchase=None)
    if op == "charge":
        return ledger.charge(user, amount, key=key)
    if op == "refund":
        return ledger.refund(user, amount, key=key)
    if op == "clawback":
        return ledger.clawback(user, amount, key=key)
    return ledger.adjust(user, amount, key=key, reason="Test", created_by=staff)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
@pytest.mark.django_db
def test_random_sequences_keep_the_ledger_exact(staff, steps):
    # Hypothesis runs every example in the same test transaction: a fresh person and key
    # space per example keeps them independent.
    user = User.objects.create_user(email=f"p{next(_people)}@example.org")
    balance = 0
    posted: dict[str, tuple[str, int, int]] = {}  # key -> (kind, signed amount, entry id)

    for (op, amount), key_index, _ in itertools.chain.from_iterable(
        [step, step] if step[2] else [step] for step in steps
    ):
        key = f"{user.pk}:{key_index}"
        kind, sign = SIGNED_KIND[op]
        signed = amount * sign
        if key in posted and posted[key][:2] != (kind, signed):
            event("conflicting reuse of a key")
            with pytest.raises(ledger.IdempotencyConflict):
                _post(op, user, amount, key, staff)
        elif key in posted:
            event("repeat of a key")
            assert _post(op, user, amount, key, staff).pk == posted[key][2]
        elif signed < 0 and kind != "clawback" and balance < -signed:
            event("refused: insufficient credits")
            with pytest.raises(ledger.InsufficientCredits):
                _post(op, user, amount, key, staff)
        else:
            event(f"posted {kind}" + (" below zero" if balance + signed < 0 else ""))
            entry = _post(op, user, amount, key, staff)
            balance += signed
            assert entry.balance_after == balance
            posted[key] = (kind, signed, entry.pk)
        assert ledger.balance_of(user) == balance

    entries = LedgerEntry.objects.filter(account__user=user)
    assert entries.count() == len(posted)
    assert sum(entries.values_list("amount", flat=True)) == balance
    assert ledger.find_drifts() == []
    if balance < 0:
        assert entries.filter(kind="clawback").exists()
