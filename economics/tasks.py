import logging

from economics import alerts, balance, reconcile, rollup

logger = logging.getLogger(__name__)


def refresh_pack_balance() -> None:
    """Scheduled every 15 minutes: Kling allows one `/account/costs` call a second, we need far fewer.

    The alerts are checked right after, on the fresh figures."""
    balance.refresh()
    alerts.check()


def reconcile_units() -> None:
    """Scheduled nightly: the last day's recorded units against Kling's pack figures."""
    try:
        reconcile.run(days=1)
    except reconcile.ReconcileError as error:
        # Nothing to compare yet (a new install, Kling unreachable): said, not retried.
        logger.warning("economics: units not reconciled: %s", error)


def roll_up_days() -> None:
    """Scheduled every 30 minutes: sums the days that closed since the last run (and the
    days summed while a generation was still running), so the dashboard reads few rows."""
    days = rollup.refresh()
    if days:
        logger.info("economics: %s day(s) summed for the dashboard", days)
