from django.core.management.base import BaseCommand

from economics import rollup


class Command(BaseCommand):
    help = (
        "Sum again, from the ledger and the generation rows, every closed day the economics "
        "dashboard reads from its daily rollups (after importing rows with past dates, or to check them)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--missing-only",
            action="store_true",
            help="Only sum the days not summed yet, as the scheduled task does.",
        )

    def handle(self, *args, missing_only: bool, **options) -> None:
        days = rollup.refresh(full=not missing_only)
        self.stdout.write(f"{days} day(s) summed, through {rollup.last_closed_day():%Y-%m-%d}.")
