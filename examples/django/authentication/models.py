from django.contrib.auth.models import AbstractUser
from django.db import models


class Company(models.Model):
    """A customer entity; its admin gives (or revokes) telemetry consent."""

    name = models.CharField(max_length=200, unique=True)
    telemetry_enabled = models.BooleanField(
        "Technical telemetry enabled",
        default=False,
        help_text="Authorises the sending of anonymised error reports (stack traces).",
    )
    telemetry_ids_allowed = models.BooleanField(
        "Technical telemetry IDs allowed",
        default=False,
        help_text="Allows the technical company ID and user ID in the reports.",
    )

    class Meta:
        verbose_name = "company"
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
