""".ci/audit.py, the dependency audit CI runs: its safety-db matcher and its reading of pip-audit's JSON, on
made-up advisories (no network). The real run's result is in bench/audit.json."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("ci_audit", REPO / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

# The shape of safety-db's insecure_full.json (names as PyPI spells them, one entry per advisory).
DATABASE = {
    "$meta": {"advisory": "PyUp.io metadata", "timestamp": 1625119202},
    "Jinja2": [{"id": "pyup.io-1", "specs": ["<2.7.2"], "cve": None, "advisory": "cache folder"},
               {"id": "pyup.io-2", "specs": [">=0.0.0,<2.11.3"], "cve": "CVE-2020-28493", "advisory": "ReDoS"}],
    "zope_interface": [{"id": "pyup.io-3", "specs": ["<4.0", ">=5.0,<5.1"], "cve": None, "advisory": "x"}],
    "oldpkg": [{"id": "pyup.io-4", "specs": ["not a specifier"], "cve": None, "advisory": "y"}],
}


def test_safety_db_advisories_match_installed_versions_by_canonical_name():
    installed = {"jinja2": "2.10", "zope-interface": "5.0.1", "requests": "2.19.0", "oldpkg": "1.0"}
    findings, unparsed = audit.match_advisories(installed, DATABASE)
    assert [(f["package"], f["id"], f["affected"]) for f in findings] == [
        ("jinja2", "pyup.io-2", ">=0.0.0,<2.11.3"),  # 2.10 is past the first advisory, inside the second
        ("zope-interface", "pyup.io-3", ">=5.0,<5.1"),  # zope_interface in the database
    ]
    assert findings[0]["cve"] == "CVE-2020-28493"
    assert unparsed == 1  # counted, not silently taken as "not affected"


def test_fixed_versions_and_unknown_packages_have_no_findings():
    findings, _ = audit.match_advisories({"jinja2": "3.1.6", "zope-interface": "5.1", "numpy": "2.4.6"}, DATABASE)
    assert findings == []


def test_pip_audit_packages_it_skipped_count_as_not_audited():
    report = {"dependencies": [
        {"name": "fastapi", "version": "0.165.0", "vulns": []},
        {"name": "h11", "version": "0.14.0", "vulns": [{"id": "GHSA-vqfr-h8mv-ghfj", "fix_versions": ["0.16.0"],
                                                        "aliases": ["CVE-2025-43859"], "description": "..."}]},
        {"name": "torch", "skip_reason": "Dependency not found on PyPI and could not be audited: torch (2.13.0)"},
    ], "fixes": []}
    summary = audit.summarize_pip_audit(report)
    assert (summary["audited"], summary["not_audited"]) == (2, 1)
    assert summary["findings"] == [{"package": "h11", "version": "0.14.0", "id": "GHSA-vqfr-h8mv-ghfj",
                                    "aliases": ["CVE-2025-43859"], "fixed_in": ["0.16.0"]}]
    assert summary["skip_reasons"] == ["Dependency not found on PyPI and could not be audited"]
