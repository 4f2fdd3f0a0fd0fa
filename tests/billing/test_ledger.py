import pytest
from django.db import IntegrityError, transaction

from billing import ledger
from billing.models import CreditAccount, LedgerEntry


def _entries(user):
    return list(LedgerEntry.objects.filter(account__user=user).order_by("id"))


def test_it_grants(alice, staff):
    entry = ledger.grant(alice, 50, key="g1", memo="Hello", created_by=staff)
    assert (entry.kind, entry.amount, entry.balance_after, entry.memo) == ("grant", 50, 50, "Hello")
    assert entry.created_by == staff
    assert ledger.balance_of(alice) == 50


def test_it_credits_a_purchase(alice):
    entry = ledger.credit_purchase(alice, 500, key="checkout:cs_1", purchase=None, memo="Starter pack")
    assert (entry.kind, entry.amount, entry.balance_after) == ("purchase", 500, 500)
    assert ledger.balance_of(alice) == 500


def test_it_charges(alice_with_100):
    entry = ledger.charge(alice_with_100, 30, key="gen:1:charge", memo="Text to image")
    assert (entry.kind, entry.amount, entry.balance_after) == ("charge", -30, 70)
    assert ledger.balance_of(alice_with_100) == 70


def test_it_charges_the_whole_balance(alice_with_100):
    ledger.charge(alice_with_100, 100, key="gen:1:charge")
    assert ledger.balance_of(alice_with_100) == 0


def test_it_refuses_a_charge_it_cannot_afford_and_writes_nothing(alice_with_100):
    with pytest.raises(ledger.InsufficientCredits) as refusal:
        ledger.charge(alice_with_100, 101, key="gen:1:charge")
    assert (refusal.value.needed, refusal.value.balance) == (101, 100)
    assert "needs 101 credits and the balance is 100" in str(refusal.value)
    assert ledger.balance_of(alice_with_100) == 100
    assert len(_entries(alice_with_100)) == 1
    # The refused key was not used up: the same charge goes through after a top-up.
    ledger.grant(alice_with_100, 1, key="top-up")
    assert ledger.charge(alice_with_100, 101, key="gen:1:charge").balance_after == 0


def test_it_refuses_a_charge_without_an_account_and_creates_none(alice):
    with pytest.raises(ledger.InsufficientCredits):
        ledger.charge(alice, 1, key="gen:1:charge")
    assert not CreditAccount.objects.filter(user=alice).exists()


def test_it_refunds(alice_with_100):
    ledger.charge(alice_with_100, 40, key="gen:1:charge")
    entry = ledger.refund(alice_with_100, 40, key="gen:1:refund", memo="Generation failed")
    assert (entry.kind, entry.amount, entry.balance_after) == ("refund", 40, 100)


def test_it_claws_back_below_zero(alice_with_100):
    ledger.charge(alice_with_100, 90, key="gen:1:charge")
    entry = ledger.clawback(alice_with_100, 100, key="refund:re_1", memo="Payment refunded")
    assert (entry.kind, entry.amount, entry.balance_after) == ("clawback", -100, -90)
    assert ledger.balance_of(alice_with_100) == -90


def test_a_negative_balance_blocks_charges_until_topped_up(alice_with_100):
    ledger.charge(alice_with_100, 100, key="gen:1:charge")
    ledger.clawback(alice_with_100, 100, key="refund:re_1")
    with pytest.raises(ledger.InsufficientCredits):
        ledger.charge(alice_with_100, 1, key="gen:2:charge")
    ledger.credit_purchase(alice_with_100, 101, key="checkout:cs_2", purchase=None)
    assert ledger.charge(alice_with_100, 1, key="gen:2:charge").balance_after == 0


def test_a_frozen_account_cannot_spend_but_still_receives(alice_with_100):
    CreditAccount.objects.filter(user=alice_with_100).update(is_frozen=True, frozen_reason="Open dispute")
    with pytest.raises(ledger.AccountFrozen, match="Open dispute"):
        ledger.charge(alice_with_100, 1, key="gen:1:charge")
    ledger.refund(alice_with_100, 5, key="gen:0:refund")
    assert ledger.balance_of(alice_with_100) == 105


def test_it_adjusts_both_ways_with_the_staff_member(alice_with_100, staff):
    up = ledger.adjust(alice_with_100, 7, key="adj:1", reason="  Goodwill  ", created_by=staff)
    down = ledger.adjust(alice_with_100, -17, key="adj:2", reason="Duplicate grant", created_by=staff)
    assert (up.kind, up.amount, up.memo, up.created_by) == ("adjustment", 7, "Goodwill", staff)
    assert (down.amount, down.balance_after) == (-17, 90)


def test_an_adjustment_never_takes_the_balance_below_zero(alice_with_100, staff):
    with pytest.raises(ledger.InsufficientCredits):
        ledger.adjust(alice_with_100, -101, key="adj:1", reason="Too much", created_by=staff)
    assert ledger.balance_of(alice_with_100) == 100


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_adjustment_needs_a_reason(alice_with_100, staff, reason):
    with pytest.raises(ValueError, match="reason"):
        ledger.adjust(alice_with_100, 5, key="adj:1", reason=reason, created_by=staff)


def test_an_adjustment_needs_the_staff_member(alice_with_100):
    with pytest.raises(ValueError, match="staff member"):
        ledger.adjust(alice_with_100, 5, key="adj:1", reason="Goodwill", created_by=None)


def test_grant_or_deduct_grants_when_positive_and_adjusts_when_negative(alice_with_100, staff):
    up = ledger.grant_or_deduct(
        alice_with_100, 100, key="admin:1", reason="Support ticket 12", created_by=staff
    )
    down = ledger.grant_or_deduct(alice_with_100, -50, key="admin:2", reason="Mistake", created_by=staff)
    assert (up.kind, up.memo, up.created_by) == ("grant", "Support ticket 12", staff)
    assert (down.kind, down.amount, down.balance_after) == ("adjustment", -50, 150)
    with pytest.raises(ValueError, match="reason"):
        ledger.grant_or_deduct(alice_with_100, 5, key="admin:3", reason="", created_by=staff)


def test_balance_of_reads_without_creating_an_account(alice):
    assert ledger.balance_of(alice) == 0
    assert not CreditAccount.objects.filter(user=alice).exists()


def test_it_links_the_entry_to_its_cause(alice_with_100):
    from generations.models import Generation

    generation = Generation.objects.create(
        owner=alice_with_100, kind="text2image", provider="simulator", model_name="kling-v2", cost=10
    )
    entry = ledger.charge(alice_with_100, 10, key=f"gen:{generation.pk}:charge", generation=generation)
    assert LedgerEntry.objects.get(pk=entry.pk).generation == generation


# Idempotency


@pytest.mark.parametrize(
    ("post", "expected_balance"),
    [
        (lambda user: ledger.grant(user, 5, key="k"), 105),
        (lambda user: ledger.credit_purchase(user, 5, key="k", purchase=None), 105),
        (lambda user: ledger.charge(user, 5, key="k"), 95),
        (lambda user: ledger.refund(user, 5, key="k"), 105),
        (lambda user: ledger.clawback(user, 5, key="k"), 95),
        (lambda user: ledger.adjust(user, -5, key="k", reason="r", created_by=user), 95),
    ],
    ids=["grant", "purchase", "charge", "refund", "clawback", "adjust"],
)
def test_the_same_key_twice_posts_once(alice_with_100, post, expected_balance):
    first = post(alice_with_100)
    second = post(alice_with_100)
    assert second.pk == first.pk
    assert ledger.balance_of(alice_with_100) == expected_balance
    assert LedgerEntry.objects.filter(idempotency_key="k").count() == 1


def test_a_retried_charge_succeeds_after_the_credits_are_gone(alice_with_100):
    first = ledger.charge(alice_with_100, 100, key="gen:1:charge")
    assert ledger.charge(alice_with_100, 100, key="gen:1:charge").pk == first.pk


@pytest.mark.parametrize(
    "reuse",
    [
        lambda alice, bob: ledger.grant(alice, 6, key="k"),  # another amount
        lambda alice, bob: ledger.refund(alice, 5, key="k"),  # another kind
        lambda alice, bob: ledger.grant(bob, 5, key="k"),  # another person
    ],
    ids=["amount", "kind", "account"],
)
def test_a_conflicting_reuse_of_a_key_raises(alice_with_100, bob, reuse):
    ledger.grant(alice_with_100, 5, key="k")
    with pytest.raises(ledger.IdempotencyConflict):
        reuse(alice_with_100, bob)
    assert ledger.balance_of(alice_with_100) == 105
    assert ledger.balance_of(bob) == 0


def test_it_posts_inside_the_callers_transaction(alice_with_100):
    # A caller's rollback (a generation that failed to save) takes the charge with it.
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.charge(alice_with_100, 10, key="gen:1:charge")
        raise RuntimeError("save failed")
    assert ledger.balance_of(alice_with_100) == 100
    assert not LedgerEntry.objects.filter(idempotency_key="gen:1:charge").exists()


# Bad input


@pytest.mark.parametrize("amount", [0, -5, 1.5, 2.0, "5", None, True, False])
@pytest.mark.parametrize("name", ["grant", "charge", "refund", "clawback"])
def test_it_refuses_amounts_that_are_not_positive_whole_numbers(alice_with_100, name, amount):
    with pytest.raises(ValueError):
        getattr(ledger, name)(alice_with_100, amount, key="k")
    assert ledger.balance_of(alice_with_100) == 100


@pytest.mark.parametrize("amount", [0, 1.5, "5", None, True])
def test_it_refuses_bad_adjustments(alice_with_100, staff, amount):
    with pytest.raises(ValueError):
        ledger.adjust(alice_with_100, amount, key="k", reason="r", created_by=staff)
    with pytest.raises(ValueError):
        ledger.grant_or_deduct(alice_with_100, amount, key="k", reason="r", created_by=staff)


def test_it_refuses_a_purchase_of_nothing(alice):
    with pytest.raises(ValueError):
        ledger.credit_purchase(alice, 0, key="k", purchase=None)


@pytest.mark.parametrize("key", ["", "   ", None, "x" * 201])
def test_it_refuses_bad_keys(alice, key):
    with pytest.raises(ValueError, match="key"):
        ledger.grant(alice, 5, key=key)


def test_it_cuts_a_long_memo_to_fit(alice):
    entry = ledger.grant(alice, 5, key="k", memo="word " * 100)
    assert len(entry.memo) == 255
    assert entry.memo.endswith("…")


# The database refuses what the service must never write


def test_entries_cannot_be_edited_or_deleted(alice_with_100):
    entry = LedgerEntry.objects.get(account__user=alice_with_100)
    entry.amount = 1000
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


@pytest.mark.parametrize(
    ("kind", "amount", "balance_after"),
    [
        ("charge", -5, -5),  # an overdraft by anything but a clawback
        ("adjustment", -5, -5),
        ("grant", 0, 0),  # zero
        ("grant", -5, 0),  # a sign that does not match the kind
        ("charge", 5, 5),
    ],
)
def test_the_database_refuses_impossible_entries(alice, kind, amount, balance_after):
    account = CreditAccount.objects.for_user(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=kind, amount=amount, balance_after=balance_after, idempotency_key="k"
        )
