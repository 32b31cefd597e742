from django.db import migrations


def create_key(apps, schema_editor):
    ConfigKey = apps.get_model("platform_core", "ConfigKey")
    # Telemetry is disabled by default: an instance admin must set it to True.
    ConfigKey.objects.get_or_create(key="TELEMETRY_ENABLED", defaults={"value": "False"})


class Migration(migrations.Migration):
    dependencies = [("platform_core", "0001_initial")]

    operations = [migrations.RunPython(create_key, migrations.RunPython.noop)]
