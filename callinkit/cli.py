"""The `callinkit` command line (also `python -m callinkit`).

Mistakes the user can fix (a missing file, a bad config, a bad bundle) print one clear message and exit
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callinkit import __version__
from callinkit.errors import CallinkitError

EPILOG = """\
typical session:
  callinkit train configs/quickstart.yaml                 # fine-tune (a few minutes on a CPU)
  callinkit export runs/quickstart bundles/quickstart      # ONNX bundle, checked against PyTorch
  callinkit predict --bundle bundles/quickstart "you clown, delete this"
  callinkit eval bundles/quickstart callin_corpus          # metrics on the corpus test split
"""


def _train_extra_missing(exc: ImportError) -> CallinkitError:
    return CallinkitError(f"this command needs the training extra ({exc.name} is not installed): "
                          "pip install 'callinkit[train]'")


def cmd_validate_config(args: argparse.Namespace) -> int:
    from callinkit.config import load_config

    config = load_config(args.config, args.overrides)
    print(f"{args.config}: valid {type(config).__name__} (task {config.task!r})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from callinkit.config import load_config

    config = load_config(args.config, args.overrides)
    try:
        if config.task == "classifier":
            from callinkit.train.classifier import train
        else:  # pragma: no cover - the schema admits only known tasks
            raise CallinkitError(f"no training recipe for task {config.task!r}")
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    train(config, Path(args.run_dir) if args.run_dir else None, resume=args.resume)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    try:
        from callinkit.train.export import export_classifier
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise CallinkitError(f"run folder not found: {run_dir}")
    agreement = []
    if args.quantize in (None, "int8"):
        # int8 is checked by label agreement on the fixed batch plus the run's validation texts.
        agreement = _validation_texts(run_dir)
    manifest = export_classifier(run_dir, Path(args.out_dir), quantize=args.quantize, overwrite=args.overwrite,
                                 agreement_texts=agreement)
    v = manifest["validation"]
    print(f"exported {run_dir} -> {args.out_dir} ({manifest['quantization']}); max |logit diff| fp32 "
          f"{v['max_abs_logit_diff']:.2e}"
          + (f"; int8 label agreement {v['int8_label_agreement']:.1%} on {v['int8_check_examples']} texts"
             if "int8_label_agreement" in v else ""))
    return 0


def _validation_texts(run_dir: Path, limit: int = 500) -> list[str]:
    import yaml

    from callinkit.config import config_from_dict
    from callinkit.train.data import build_splits

    config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    rows = build_splits(config.data.sources, config.data, "classification", config.training.seed)["validation"]
    return [r["text"] for r in rows[:limit]]


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        from callinkit.train.evaluation import run_eval
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    run_eval(args.target, args.data, Path(args.out) if args.out else None)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from callinkit.serve import Classifier

    texts = list(args.texts)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise CallinkitError("give at least one TEXT, or '-' and lines on standard input")
    classifier = Classifier.load(args.bundle, device=args.device)
    for text, pred in zip(texts, classifier.predict(texts)):
        if args.json:
            print(json.dumps({"text": text, **pred.to_dict()}, ensure_ascii=False))
        else:
            scores = "  ".join(f"{k}={v:.2f}" for k, v in pred.scores.items())
            print(f"{pred.label:<9} {scores}  {text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callinkit",
        description="Classify call-outs / call-ins / neutral messages and train, export and serve the models.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"callinkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune a model from a YAML config",
                       description="Fine-tune a model from a YAML run config. Overrides use key.sub=value, "
                                   "e.g. training.epochs=1 data.sources.0.weight=0.5.")
    p.add_argument("config", help="YAML run config, e.g. configs/quickstart.yaml")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument("--run-dir", help="write the run here instead of the config's run_dir")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="export a trained run to an ONNX bundle",
                       description="Export RUN_DIR/best to a self-describing ONNX bundle in OUT_DIR, checked "
                                   "against the PyTorch model; written atomically.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--quantize", choices=["none", "int8"], default=None,
                   help="int8 (dynamic) or none; default: the run config's export.quantize")
    p.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("eval", help="evaluate a bundle or checkpoint on labelled data",
                       description="Print macro-F1, accuracy, calibration and per-class F1; DATA is a JSONL/CSV "
                                   "file with text,label columns or callin_corpus[:split] (default test).")
    p.add_argument("target", metavar="BUNDLE_OR_CHECKPOINT")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", help="also write the metrics as JSON here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify texts with a bundle",
                       description="Classify each TEXT (or lines of standard input with '-').")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--bundle", help="classifier bundle folder (default: $CALLINKIT_CLASSIFIER_BUNDLE or the "
                                    "shipped model)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("validate-config", help="check a YAML run config without running it")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    p.set_defaults(func=cmd_validate_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CallinkitError as exc:
        print(f"callinkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
