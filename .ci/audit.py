"""Dependency audit for CI: reports known advisories for the installed packages and never fails the build.

    .venv/bin/python .ci/audit.py [--out .ci/audit.json] [--tools-venv .ci/.audit-venv]

Run it with the project's venv Python: it audits exactly what that venv holds (`pip freeze`, the editable
callinkit left out). Each advisory source is tried, and the result says what it could and could not audit:

1. pip-audit, with PyPI's vulnerability service and then OSV, on the frozen list (installed in its own venv,
   so its dependencies never touch the project's). Where PyPI's per-version JSON or OSV cannot be reached,
   pip-audit skips every package (and prints "No known vulnerabilities found"): counted as not audited here.
2. safety-db, PyUp's advisory database shipped as a PyPI package and matched here against the installed
   versions. It works offline, but its last release is 2021.7.17 (advisories up to July 2021) and it is
   licensed CC BY-NC-SA 4.0: a floor, not a substitute for (1).

Writes OUT (JSON: per source whether it ran, how many packages it audited, every finding with package,
version, advisory id, affected versions and CVE) and prints a summary. Exits 0 whatever it finds or fails to
reach (advisories are for people to triage, not a reason to stop CI), 2 when called wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
# Pinned: the audit's own tools must not change under it. safety-db 2021.7.17 is that package's last release.
TOOLS = ["pip-audit==2.10.1", "safety-db==2021.7.17"]
PIP_AUDIT_SERVICES = ["pypi", "osv"]


def installed_packages(python: str) -> dict[str, str]:
    """{canonical name: version} of what `python`'s environment has installed (editable installs left out)."""
    out = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name and not line.startswith("#"):
            packages[canonicalize_name(name)] = version
    return packages


def tools_python(venv: Path) -> Path:
    """The Python of a venv holding TOOLS (created on first use)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS],
                             capture_output=True, text=True)
    if install.returncode != 0:
        raise RuntimeError(f"could not install {' '.join(TOOLS)}: {install.stderr.strip()[-500:]}")
    return python


def pip_audit(python: Path, requirements: Path, service: str, timeout_s: float = 600) -> dict[str, Any]:
    """pip-audit's verdict on `requirements` (pinned, no dependency resolution) with one vulnerability service."""
    count = len(requirements.read_text().splitlines())
    result: dict[str, Any] = {"source": f"pip-audit 2.10.1, service {service}", "ran": False, "audited": 0,
                              "not_audited": count, "findings": [], "error": None}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "pip-audit.json"
        try:
            proc = subprocess.run([str(python), "-m", "pip_audit", "-r", str(requirements), "--no-deps",
                                   "--disable-pip", "--progress-spinner", "off", "-s", service, "-f", "json",
                                   "-o", str(report)], capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            result["error"] = f"timed out after {timeout_s:.0f} s"
            return result
        if not report.exists():  # it failed before auditing: keep the last line of its error
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            result["error"] = (lines[-1] if lines else f"exit code {proc.returncode}")[:500]
            return result
        result.update(summarize_pip_audit(json.loads(report.read_text())))
    result["ran"] = True
    return result


def summarize_pip_audit(report: dict[str, Any]) -> dict[str, Any]:
    """Counts and findings from pip-audit's JSON (`-f json`): a dependency with a `skip_reason` was not audited."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if "skip_reason" in d]
    findings = [{"package": d["name"], "version": d.get("version"), "id": v["id"], "aliases": v.get("aliases", []),
                 "fixed_in": v.get("fix_versions", [])}
                for d in deps for v in d.get("vulns", [])]
    reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
    return {"audited": len(deps) - len(skipped), "not_audited": len(skipped), "findings": findings,
            "skip_reasons": reasons}


def safety_db_dir(python: Path) -> Path:
    # Found, not imported: the package's __init__ opens its data by a path relative to the working directory.
    code = "import importlib.util; print(importlib.util.find_spec('safety_db').submodule_search_locations[0])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return Path(out.strip())


def match_advisories(installed: dict[str, str], database: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Advisories of a safety-db `insecure_full.json` that cover an installed version, and how many advisory
    specifiers could not be parsed (old entries use a few forms that `packaging` rejects)."""
    by_name = {canonicalize_name(name): entries for name, entries in database.items() if not name.startswith("$")}
    findings, unparsed = [], 0
    for name, version in sorted(installed.items()):
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        for entry in by_name.get(canonicalize_name(name), []):
            for spec in entry.get("specs", []):
                try:
                    affected = SpecifierSet(spec).contains(parsed, prereleases=True)
                except InvalidSpecifier:
                    unparsed += 1
                    continue
                if affected:
                    findings.append({"package": name, "version": version, "id": entry.get("id"),
                                     "affected": spec, "cve": entry.get("cve"),
                                     "advisory": (entry.get("advisory") or "")[:300]})
                    break
    return findings, unparsed


def safety_db_audit(python: Path, installed: dict[str, str]) -> dict[str, Any]:
    folder = safety_db_dir(python)
    database = json.loads((folder / "insecure_full.json").read_text())
    meta = database.get("$meta", {})
    as_of = dt.datetime.fromtimestamp(meta["timestamp"], dt.timezone.utc).date().isoformat() if "timestamp" in meta \
        else None
    findings, unparsed = match_advisories(installed, database)
    known = {canonicalize_name(n) for n in database if not n.startswith("$")}
    return {"source": "safety-db 2021.7.17 (PyUp, CC BY-NC-SA 4.0), matched by .ci/audit.py",
            "ran": True, "database_as_of": as_of, "audited": len(installed),
            "packages_with_advisories_in_db": len(known & set(installed)), "not_audited": 0,
            "unparsed_specifiers": unparsed, "findings": findings, "error": None}


def audit(python: str, tools_venv: Path) -> dict[str, Any]:
    installed = installed_packages(python)
    tools = tools_python(tools_venv)
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(installed.items())))
        sources = [pip_audit(tools, requirements, service) for service in PIP_AUDIT_SERVICES]
    try:
        sources.append(safety_db_audit(tools, installed))
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        sources.append({"source": "safety-db", "ran": False, "error": f"{type(exc).__name__}: {exc}"[:500],
                        "audited": 0, "not_audited": len(installed), "findings": []})
    return {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "python": python,
            "packages": len(installed), "sources": sources,
            "findings": sum(len(s["findings"]) for s in sources),
            "sources_that_checked_every_package": [s["source"] for s in sources
                                                   if s["ran"] and s["audited"] == len(installed)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=".ci/audit.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "audit.json", help="result file (JSON)")
    parser.add_argument("--tools-venv", type=Path, default=HERE / ".audit-venv", help="venv for the audit tools")
    parser.add_argument("--python", default=sys.executable, help="the environment to audit (default: this one)")
    args = parser.parse_args(argv)
    result = audit(args.python, args.tools_venv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"dependency audit of {result['packages']} packages (reports only; never fails CI):")
    for s in result["sources"]:
        state = (f"audited {s['audited']}, not audited {s['not_audited']}, findings {len(s['findings'])}"
                 if s["ran"] else f"could not run: {s['error']}")
        if s.get("database_as_of"):
            state += f" (advisories published up to {s['database_as_of']} only)"
        print(f"  {s['source']}: {state}")
        for f in s["findings"]:
            print(f"    {f['package']} {f['version']}: {f['id']} {f.get('cve') or ', '.join(f.get('aliases', []))}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
