import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from platform_core.consent import build_document, export_consent


class Command(BaseCommand):
    help = "Write the telemetry consent document for the scrubbing proxy (and ask it to reload)."

    def add_arguments(self, parser):
        parser.add_argument("--path", help="output file (default: CONSENT_EXPORT_PATH)")
        parser.add_argument("--print", action="store_true", help="print the document instead of writing it")
        parser.add_argument("--no-notify", action="store_true", help="do not call the proxy")

    def handle(self, *args, **options):
        if options["print"]:
            self.stdout.write(json.dumps(build_document(), indent=2, sort_keys=True))
            return
        path = options["path"] or settings.CONSENT_EXPORT_PATH
        if not path:
            raise CommandError("set CONSENT_EXPORT_PATH or pass --path")
        export_consent(path, notify=not options["no_notify"])
        self.stdout.write(f"consent written to {path}")
