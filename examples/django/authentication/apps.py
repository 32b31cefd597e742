from django.apps import AppConfig


class AuthenticationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authentication"
    # The admin shows "Authentication > Companies" (product documentation path).
    verbose_name = "Authentication"
