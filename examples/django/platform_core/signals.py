import logging

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from authentication.models import Company

from .consent import export_consent
from .models import ConfigKey

logger = logging.getLogger(__name__)


def _export():
    try:
        export_consent()
    except Exception:  # logged, never breaks an admin save
        logger.exception("consent export failed")


@receiver(post_save, sender=Company)
@receiver(post_delete, sender=Company)
@receiver(post_save, sender=ConfigKey)
@receiver(post_delete, sender=ConfigKey)
def consent_changed(sender, **kwargs):
    # Export after the commit, so the document reflects what is stored; a bulk
    # change in one transaction gives one export and one refresh call (Django
    # drops the pending callback on rollback).
    if any(entry[1] is _export for entry in getattr(connection, "run_on_commit", ())):
        return
    transaction.on_commit(_export)
