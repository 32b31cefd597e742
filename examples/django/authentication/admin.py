from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Company, User


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "telemetry_enabled", "telemetry_ids_allowed")
    list_editable = ("telemetry_enabled", "telemetry_ids_allowed")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "company", "is_staff")
    list_filter = BaseUserAdmin.list_filter + ("company",)
    fieldsets = BaseUserAdmin.fieldsets + (("Company", {"fields": ("company",)}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("Company", {"fields": ("company",)}),)
