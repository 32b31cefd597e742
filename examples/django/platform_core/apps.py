from django.apps import AppConfig


class PlatformCoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "platform_core"
    verbose_name = "Admin"

    def ready(self):
        from . import signals  # noqa: F401  (connects the consent export)
