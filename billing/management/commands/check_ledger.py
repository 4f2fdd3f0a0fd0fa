from django.core.management.base import BaseCommand, CommandError

from billing import ledger


class Command(BaseCommand):
    help = "Compare every credit balance with the sum of its ledger entries; exit non-zero on any drift."

    def handle(self, *args, **options) -> None:
        problems = ledger.reconcile()
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found")
        self.stdout.write("Ledger OK: every balance equals the sum of its entries.")
