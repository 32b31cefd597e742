"""Creates the demo company, its member and token, and a few documents (planted values)."""
from django.core.management.base import BaseCommand

from span_canaries import COMPANY_ID, USER_ID, value
from dms.models import ApiToken, Company, Document, Member


class Command(BaseCommand):
    help = "Seed the capture app's database."

    def handle(self, *args, **options):
        company = Company.objects.create(id=int(COMPANY_ID), name=value("company_name"))
        member = Member.objects.create(
            id=int(USER_ID), company=company, username=value("username"), email=value("user_email"), full_name=value("person")
        )
        ApiToken.objects.create(key=value("api_token"), member=member)
        Document.objects.create(company=company, slug=value("doc_slug"), title=value("doc_title"), body=value("doc_body"))
        for i in range(5):
            Document.objects.create(company=company, slug=f"handbook-part-{i}", title=f"Handbook part {i}", body="Opening hours.")
