"""The settings module: the production profile is safe, the local one needs nothing."""

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True
    )


def _production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLAIMVISION_"))}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="x" * 20 + "-production-key-with-enough-entropy-1234567890",
        DJANGO_ALLOWED_HOSTS="claims.example.com",
        CLAIMVISION_VAR_DIR=str(tmp_path),
        **extra,
    )
    return env


def test_production_profile_passes_check_deploy(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_profile_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_local_profile_generates_a_secret_key_outside_git(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["CLAIMVISION_VAR_DIR"] = str(tmp_path)
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    assert key not in "".join(
        Path(REPO, f).read_text(errors="ignore")
        for f in tracked.stdout.split()
        if f.endswith((".py", ".toml", ".md"))
    )


def _local_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLAIMVISION_"))}
    env.pop("DATABASE_URL", None)
    env.update(CLAIMVISION_VAR_DIR=str(tmp_path), **extra)
    return env


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_profile_keeps_its_secret_key_and_database_owner_only(tmp_path):
    var = tmp_path / "var"  # created by the settings

    result = _manage("migrate", "--noinput", env=_local_env(var))

    assert result.returncode == 0, result.stderr
    assert _mode(var) == 0o700
    assert _mode(var / "secret_key") == 0o600
    assert _mode(var / "db.sqlite3") == 0o600
    for journal in var.glob("db.sqlite3-*"):  # SQLite's -wal and -shm follow the database
        assert _mode(journal) == 0o600, journal.name


def test_local_profile_tightens_a_secret_key_and_database_left_readable(tmp_path):
    for name, content in (("secret_key", "k" * 50), ("db.sqlite3", "")):
        (tmp_path / name).write_text(content)
        (tmp_path / name).chmod(0o644)

    result = _manage("check", env=_local_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert _mode(tmp_path / "secret_key") == 0o600
    assert _mode(tmp_path / "db.sqlite3") == 0o600
    assert (tmp_path / "secret_key").read_text() == "k" * 50


def test_settings_read_quotas_proxies_and_sign_in_limits_from_the_environment(tmp_path):
    env = _local_env(
        tmp_path,
        CLAIMVISION_QUOTA_CLAIMS="2/minute",
        CLAIMVISION_QUOTA_UPLOADS="3/minute",
        CLAIMVISION_QUOTA_EXPORTS="4/day",
        CLAIMVISION_TRUSTED_PROXIES="10.0.0.0/8,192.0.2.1",
        CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT="7",
        CLAIMVISION_STAFF_SESSION_HOURS="4",
    )
    code = (
        "from django.conf import settings as s; r = s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'];"
        "print(r['claims'], r['uploads'], r['exports'],"
        " ','.join(map(str, s.CLAIMVISION_TRUSTED_PROXIES)),"
        " s.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT, s.CLAIMVISION_STAFF_SESSION_HOURS)"
    )

    result = _manage("shell", "--no-imports", "-c", code, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "2/minute",
        "3/minute",
        "4/day",
        "10.0.0.0/8,192.0.2.1/32",
        "7",
        "4",
    ]


def test_settings_trust_no_proxy_by_default(tmp_path):
    code = "from django.conf import settings as s; print(len(s.CLAIMVISION_TRUSTED_PROXIES))"

    result = _manage("shell", "--no-imports", "-c", code, env=_local_env(tmp_path))

    assert result.stdout.strip() == "0"
