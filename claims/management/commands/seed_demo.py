"""Create (or refresh) the local demo accounts and print their credentials.

Refuses to run in production: demo accounts with printed passwords are for a laptop.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from claims.roles import Role

DEMO_ACCOUNTS = [
    ("customer", Role.CUSTOMER, False),
    ("adjuster", Role.ADJUSTER, False),
    ("senior", Role.SENIOR_ADJUSTER, False),
    ("datateam", Role.DATA_TEAM, False),
    ("admin", Role.ADMIN, True),
]


class Command(BaseCommand):
    help = (
        "Create local demo accounts (customer, adjuster, senior adjuster, data team, admin) "
        "and print them."
    )

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo is for local use only.")
        credentials_file = settings.VAR_DIR / "demo-credentials.txt"
        known = {}
        if credentials_file.exists():
            for line in credentials_file.read_text().splitlines():
                user, _, password = line.partition(" ")
                known[user] = password
        User = get_user_model()
        lines = []
        for username, role, is_admin in DEMO_ACCOUNTS:
            password = known.get(username) or secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.test"}
            )
            user.set_password(password)
            user.is_staff = is_admin or role in (
                Role.ADJUSTER,
                Role.SENIOR_ADJUSTER,
                Role.DATA_TEAM,
            )
            user.is_superuser = is_admin
            user.save()
            if role is not Role.ADMIN:
                user.groups.add(Group.objects.get_or_create(name=role.value)[0])
            lines.append(f"{username} {password}")
        credentials_file.parent.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text("\n".join(lines) + "\n")
        credentials_file.chmod(0o600)
        self.stdout.write("Demo accounts (username / password):")
        for line in lines:
            user, _, password = line.partition(" ")
            self.stdout.write(f"  {user:<10} {password}")
