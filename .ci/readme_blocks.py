"""Print one README section's code blocks as one bash script, as a new user would paste them in order:
```bash blocks verbatim, ```python blocks fed to `python -` (the venv the bash blocks activated).

    python .ci/readme_blocks.py README.md "Use the shipped models" > first_screen.sh
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def section_blocks(readme: str, heading: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block under the `## heading` section, in order."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    if not match:
        raise SystemExit(f"README has no '## {heading}' section")
    return re.findall(r"^```(\w+)\n(.*?)^```", match.group(1), re.S | re.M)


def main() -> None:
    readme, heading = Path(sys.argv[1]).read_text(encoding="utf-8"), sys.argv[2]
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT  # stop a server the README started"]
    for lang, code in section_blocks(readme, heading):
        if lang == "bash":
            lines.append(code.rstrip())
        elif lang == "python":
            lines.append("python - <<'PY'\n" + code.rstrip() + "\nPY")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
