from django.core.management.base import BaseCommand

from billing import payments


class Command(BaseCommand):
    help = "Credit every paid Stripe Checkout Session of the last days that was missed (safe to repeat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=payments.RECONCILE_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        report = payments.reconcile(days=days)
        self.stdout.write(
            f"Checked {report.checked} paid sessions: {report.credited} credited now, "
            f"{report.already} already credited, {report.foreign} not ours; "
            f"{report.requeued_events} stored events re-queued."
        )
        for error in report.errors:
            self.stderr.write(f"  {error}")
