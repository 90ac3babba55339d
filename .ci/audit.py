"""Audit the installed dependencies for known vulnerabilities (pip-audit, PyPI's advisory data).

Fails on any known vulnerability. Where the advisory service answers for none of the packages
(a registry mirror without per-release data, as on the project's CI machines), it says so
loudly and exits 0: an audit that could not run is reported as such, never as "no
vulnerabilities".
"""

import json
import subprocess
import sys

result = subprocess.run(
    [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--skip-editable",
    ],
    capture_output=True,
    text=True,
    check=False,
)
try:
    report = json.loads(result.stdout)
except json.JSONDecodeError:
    print(result.stdout[-2000:], result.stderr[-2000:])
    sys.exit("pip-audit failed to run")
deps = report["dependencies"]
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
        print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
if not audited:
    print(
        f"AUDIT NOT RUN: the advisory service answered for none of the {len(deps)} packages "
        "(no per-release data reachable from this machine)."
    )
    sys.exit(0)
print(f"pip-audit: {len(audited)} of {len(deps)} packages audited, {len(vulnerable)} vulnerable")
sys.exit(1 if vulnerable else 0)
