from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from service_kit.messaging.consumer import NotReplayable, replay
from service_kit.models import DeadLetter


class Command(BaseCommand):
    help = "Send dead letters again to the queue that had them (the admin's replay action)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="dead letter ids")
        parser.add_argument("--all", action="store_true", help="every letter not replayed yet")
        parser.add_argument("--task", help="only letters of this task name")

    def handle(
        self, *args: Any, ids: list[int], all: bool, task: str | None, **options: Any
    ) -> None:
        if not ids and not all:
            raise CommandError("Name dead letter ids, or --all.")
        letters = DeadLetter.objects.all()
        letters = letters.filter(pk__in=ids) if ids else letters.filter(replayed_at__isnull=True)
        if task:
            letters = letters.filter(task=task)
        count = 0
        for letter in letters:
            try:
                replay(letter)
            except NotReplayable as exc:
                self.stderr.write(f"skipped {letter.pk}: {exc}")
                continue
            count += 1
        self.stdout.write(f"replayed {count}")
