"""Importing callinkit / callinkit.serve, and classifying with a bundle, never imports torch."""

import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers", "datasets", "accelerate", "evaluate"):
                raise ImportError(f"blocked import of {name} (inference must be torch-free)")
    sys.meta_path.insert(0, Block())
""")


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def loaded_after_import(modules: str, roots: tuple[str, ...]) -> str:
    """In a fresh interpreter, import `modules` (comma-separated) and print which modules under `roots` loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys, {modules}; "
         f"print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_does_not_load_torch():
    assert loaded_after_import("callinkit, callinkit.serve, callinkit.cli", ("torch", "transformers", "datasets")) == "[]"


def test_classify_with_torch_blocked(tiny_bundle):
    proc = run(f"""
        from callinkit import Classifier
        preds = Classifier.load({str(tiny_bundle)!r}).predict(["you clown", "nice photo"])
        print(len(preds), sorted(preds[0].scores))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2 ['call_in', 'call_out', 'neutral']"


def test_cli_predict_with_torch_blocked(tiny_bundle):
    proc = run(f"""
        from callinkit.cli import main
        raise SystemExit(main(["predict", "--bundle", {str(tiny_bundle)!r}, "--json", "hello there"]))
    """)
    assert proc.returncode == 0, proc.stderr
    assert '"label"' in proc.stdout


def test_blocker_really_blocks():
    proc = run("import torch")
    assert proc.returncode != 0 and "blocked import of torch" in proc.stderr


def test_import_does_not_load_ray():
    """Ray is the optional extra callinkit[ray]; only `score --engine ray` imports it."""
    assert loaded_after_import("callinkit, callinkit.serve, callinkit.serve.score, callinkit.cli", ("ray",)) == "[]"
