from django.core.management.base import BaseCommand, CommandError

from economics import reconcile


class Command(BaseCommand):
    help = (
        "Compare the Kling units recorded per generation with how much Kling's packs went down "
        "(/account/costs) over the last N days; the result is also kept for the admin."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=1, help="Days back from now (1 to 31).")

    def handle(self, *args, days: int, **options) -> None:
        try:
            rows = reconcile.run(days=days)
        except reconcile.ReconcileError as error:
            raise CommandError(str(error)) from None
        for row in rows:
            self.stdout.write(
                f"{row.product_type}: recorded {row.recorded_units} units, Kling {row.kling_units}, "
                f"difference {row.difference} ({row.start:%Y-%m-%d %H:%M} to {row.end:%Y-%m-%d %H:%M})"
            )
        if not rows:
            self.stdout.write("No units used in the period, by our records or Kling's.")
