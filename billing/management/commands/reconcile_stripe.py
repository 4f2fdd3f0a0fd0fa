from django.core.management.base import BaseCommand

from billing import payments, webhooks


class Command(BaseCommand):
    help = "Credit every paid Stripe Checkout Session of the last days that was missed (safe to repeat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=payments.RECONCILE_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        report = payments.reconcile(days=days)
        requeued = webhooks.requeue_stuck_events()
        self.stdout.write(
            f"Checked {report.checked} paid sessions: {report.credited} credited now, "
            f"{report.already} already credited, {report.held} held for review, {report.foreign} not ours; "
            f"{requeued} stored events re-queued."
        )
        for error in report.errors:
            self.stderr.write(f"  {error}")
