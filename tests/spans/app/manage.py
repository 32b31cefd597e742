#!/usr/bin/env python
"""Django's command-line utility for the span capture app (migrate, seed)."""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # span_canaries.py
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dms.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
