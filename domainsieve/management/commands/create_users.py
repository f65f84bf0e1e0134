"""manage.py create_users users.csv [--links BASE_URL]: bulk accounts from CSV, all or none."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from domainsieve.accounts import BulkUserError, parse_users_csv, users_create_bulk


class Command(BaseCommand):
    help = ("Create accounts from a CSV with columns username, email, role (annotator, researcher, admin) and "
            "campaigns (names separated by ';', may be empty). Every row is checked first; one bad row creates "
            "nobody. Prints each user's initial password, or with --links a one-time set-password link.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_path", type=Path, help="the users CSV")
        parser.add_argument("--links", metavar="BASE_URL",
                            help="print set-password links on this site (e.g. https://sieve.example.org) "
                                 "instead of initial passwords")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["csv_path"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
        base_url = options.get("links")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise CommandError("--links needs an http:// or https:// base URL")
        try:
            created = users_create_bulk(rows=parse_users_csv(text), set_password_base_url=base_url)
        except BulkUserError as error:
            raise CommandError("nothing was created:\n  " + "\n  ".join(error.errors)) from None
        except csv.Error as error:
            raise CommandError(f"{path} is not a readable CSV: {error}") from None
        writer = csv.writer(self.stdout)
        writer.writerow(["username", "role", "campaigns", "set_password_url" if base_url else "password"])
        for user in created:
            writer.writerow([user.username, user.role, ";".join(user.campaigns),
                             user.set_password_url if base_url else user.password])
        self.stderr.write(f"created {len(created)} users ({'set-password links' if base_url else 'initial passwords'}"
                          "; shown once)")
