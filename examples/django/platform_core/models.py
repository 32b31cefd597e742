from django.db import models

TELEMETRY_ENABLED = "TELEMETRY_ENABLED"


class ConfigKey(models.Model):
    """Instance-wide configuration (admin path /admin/platform_core/configkey/)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = "config key"
        ordering = ["key"]

    def __str__(self):
        return f"{self.key}={self.value}"

    @classmethod
    def get_bool(cls, key, default=False):
        row = cls.objects.filter(key=key).first()
        if row is None:
            return default
        return row.value.strip().lower() in ("true", "1", "yes", "on")
