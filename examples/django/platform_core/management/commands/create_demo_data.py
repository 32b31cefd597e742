import os

from django.core.management.base import BaseCommand
from django.db import transaction

from api.models import Document
from authentication.models import Company, User
from platform_core.models import TELEMETRY_ENABLED, ConfigKey

COMPANIES = [
    # name, telemetry_enabled, telemetry_ids_allowed
    ("Acme Industries", True, True),
    ("Globex Corporation", True, False),
    ("Initech", False, False),
]

USERS = [
    # username, email, first, last, company index
    ("zephyrine.canarywood", "alice.canary1@example.com", "Zephyrine", "Canarywood", 0),
    ("bob.martin", "bob.martin@example.com", "Bob", "Martin", 1),
    ("carol.durand", "carol.durand@example.com", "Carol", "Durand", 2),
]

DEMO_PASSWORD = "demo-password-123"


class Command(BaseCommand):
    help = "Create demo companies, users, documents and the TELEMETRY_ENABLED key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--telemetry",
            choices=["on", "off"],
            default="on",
            help="value of TELEMETRY_ENABLED (default: on, for the demo)",
        )
        parser.add_argument("--documents", type=int, default=120, help="documents per company")

    @transaction.atomic
    def handle(self, *args, **options):
        ConfigKey.objects.update_or_create(
            key=TELEMETRY_ENABLED,
            defaults={"value": "True" if options["telemetry"] == "on" else "False"},
        )
        companies = []
        for name, enabled, ids in COMPANIES:
            company, _ = Company.objects.update_or_create(
                name=name,
                defaults={"telemetry_enabled": enabled, "telemetry_ids_allowed": ids},
            )
            companies.append(company)
        for username, email, first, last, idx in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": email, "first_name": first, "last_name": last},
            )
            user.company = companies[idx]
            user.set_password(DEMO_PASSWORD)
            user.save()
        admin_password = os.environ.get("DJANGO_ADMIN_PASSWORD", "admin")
        admin, _ = User.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = True
        admin.set_password(admin_password)
        admin.save()

        wanted = options["documents"]
        for company in companies:
            have = Document.objects.filter(company=company).count()
            Document.objects.bulk_create(
                Document(
                    company=company,
                    title=f"{company.name} report {i:03d}",
                    body=f"Quarterly figures {i} for {company.name}.",
                )
                for i in range(have, wanted)
            )
        self.stdout.write(
            f"demo data ready: {len(companies)} companies, {len(USERS)} users "
            f"(password {DEMO_PASSWORD!r}), admin/{admin_password}, "
            f"TELEMETRY_ENABLED={options['telemetry'] == 'on'}"
        )
