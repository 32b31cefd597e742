from django.contrib import admin

from .models import ConfigKey


@admin.register(ConfigKey)
class ConfigKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "value")
    list_editable = ("value",)
    search_fields = ("key",)
