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
  callinkit train configs/quickstart.yaml                 # fine-tune (about 12 minutes on a 2-core CPU)
  callinkit export runs/quickstart bundles/quickstart      # ONNX bundle, checked against PyTorch
  callinkit predict --bundle bundles/quickstart "you clown, delete this"
  callinkit eval bundles/quickstart callin_corpus          # metrics on the corpus test split
  callinkit suggest "you clown, delete this"                # the shipped models: label, and a call-in rewrite
"""


def _train_extra_missing(exc: ImportError) -> CallinkitError:
    return CallinkitError(f"this command needs the training extra ({exc.name} is not installed): "
                          "pip install 'callinkit[train]'")


def cmd_validate_config(args: argparse.Namespace) -> int:
    from callinkit.config import check_data, load_config

    config = load_config(args.config, args.overrides)
    check_data(config, args.config)
    print(f"{args.config}: valid {type(config).__name__} (task {config.task!r}); every data source it names exists")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from callinkit.config import check_data, load_config
    from callinkit.train.distributed import check_launch

    check_launch()  # before torch loads: `accelerate launch` may have started 1 of several processes
    config = load_config(args.config, args.overrides)
    check_data(config, args.config)  # before a run folder exists
    try:
        if config.task == "classifier":
            from callinkit.train.classifier import train
        elif config.task == "rewriter_lm":
            from callinkit.train.rewriter_lm import train
        else:
            from callinkit.train.rewriter import train
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    train(config, Path(args.run_dir) if args.run_dir else None, resume=args.resume)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import yaml

    run_dir = Path(args.run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CallinkitError(f"run folder not found or not a run (no config.yaml): {run_dir}")
    task = (yaml.safe_load((run_dir / "config.yaml").read_text()) or {}).get("task", "classifier")
    if task == "rewriter_lm":
        try:
            from callinkit.train.rewriter_lm_export import export_rewriter_lm
        except ImportError as exc:
            raise _train_extra_missing(exc) from None
        precision = args.precision or ("fp32" if args.quantize == "none" else None)
        manifest = export_rewriter_lm(run_dir, Path(args.out_dir), precision=precision,
                                      classifier_bundle=args.classifier, overwrite=args.overwrite,
                                      min_agreement=args.min_agreement, with_embedder=not args.no_embedder)
        v = manifest["validation"]
        p = manifest["precision"]
        print(f"exported {run_dir} -> {args.out_dir} ({p}, onnxruntime-genai); fp32 greedy identical to "
              f"transformers.generate on {v['fp32_greedy_identical_to_generate']}/{v['check_examples']}"
              + (f"; {p} greedy identical to fp32 on {v[f'{p}_greedy_identical_to_fp32']}/{v['check_examples']}, "
                 f"chrF {v[f'{p}_chrf_vs_fp32']}" if f"{p}_chrf_vs_fp32" in v else "")
              + f"; guard P(call_in) >= {manifest['guard']['min_call_in']}"
              + (f", similarity to the source >= {manifest['guard']['min_similarity']}"
                 if "min_similarity" in manifest["guard"] else ""))
        return 0
    try:
        if task == "rewriter":
            from callinkit.train.rewriter_bundle import export_rewriter
        else:
            from callinkit.train.export import export_classifier
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    if task == "rewriter":
        manifest = export_rewriter(run_dir, Path(args.out_dir), quantize=args.quantize,
                                   classifier_bundle=args.classifier, overwrite=args.overwrite)
        v = manifest["validation"]
        print(f"exported {run_dir} -> {args.out_dir} ({manifest['quantization']}); greedy identical to PyTorch on "
              f"{v['greedy_identical_to_pytorch']}/{v['check_examples']}; max |logit diff| "
              f"{v['teacher_forced_max_abs_logit_diff']:.2e}"
              + (f"; int8 vs fp32 chrF {v['int8_chrf_vs_fp32']}" if "int8_chrf_vs_fp32" in v else ""))
        return 0
    # int8 is checked by label agreement on the fixed batch plus the run's validation texts, and the
    # `uncertain` threshold is chosen on the exported model's own validation probabilities.
    texts, labels = _validation_rows(run_dir)
    manifest = export_classifier(run_dir, Path(args.out_dir), quantize=args.quantize, overwrite=args.overwrite,
                                 agreement_texts=texts, validation_labels=labels)
    v = manifest["validation"]
    print(f"exported {run_dir} -> {args.out_dir} ({manifest['quantization']}); max |logit diff| fp32 "
          f"{v['max_abs_logit_diff']:.2e}"
          + (f"; int8 label agreement {v['int8_label_agreement']:.1%} on {v['int8_check_examples']} texts"
             if "int8_label_agreement" in v else ""))
    return 0


def _validation_rows(run_dir: Path) -> tuple[list[str], list[str]]:
    """The run's validation texts and labels, rebuilt from its saved config."""
    import yaml

    from callinkit.config import config_from_dict
    from callinkit.train.data import build_splits

    config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    rows = build_splits(config.data.sources, config.data, "classification", config.training.seed)["validation"]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        from callinkit.train.evaluation import run_eval
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    target = Path(args.target)
    if (target / "manifest.json").is_file() and json.loads((target / "manifest.json").read_text()).get("kind") == "rewriter":
        from callinkit.train.rewriter_eval import run_rewriter_eval

        run_rewriter_eval(args.target, args.data, paradetox=args.paradetox, limit=args.limit,
                          out=Path(args.out) if args.out else None, compare=args.compare, per_slice=args.per_slice,
                          num_candidates=args.num_candidates, embedder=args.embedder,
                          only=[x for x in (args.slices or "").split(",") if x], real_comments=args.real_comments,
                          **_floors(args))
        return 0
    if _floors(args):
        raise CallinkitError(f"{_floor_flags(args)} applies to rewriter bundles; BUNDLE_OR_CHECKPOINT is not one")
    run_eval(args.target, args.data, Path(args.out) if args.out else None, show_errors=args.show_errors)
    return 0


MIN_LOGPROB_HELP = ("rewriter v2: the guard's floor on the model's own mean token log-probability of a suggestion, "
                    "instead of the bundle's (higher: fewer and better suggestions; -inf: no floor; what each floor "
                    "gives: model_cards/judging/2026-12-08-floor/; write no floor as --min-logprob=-inf)")


MIN_LOGPROB_TAIL_HELP = ("rewriter v2: the guard's floor on the mean of the 5 lowest token log-probabilities of a "
                         "suggestion (its least likely stretch), instead of the bundle's (-inf: none; what it gives: "
                         "model_cards/judging/2026-12-08-tail/)")


def _min_logprob(value: str) -> float:
    from callinkit.serve.rewriter import check_min_logprob

    try:
        return check_min_logprob(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _min_logprob_tail(value: str) -> float:
    from callinkit.serve.rewriter import check_min_logprob

    try:
        return check_min_logprob(value, "--min-logprob-tail")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _floors(args: argparse.Namespace) -> dict[str, float]:
    """The rewriter floors given on the command line (`Rewriter.load`'s `min_logprob` / `min_logprob_tail`)."""
    return {k: getattr(args, k) for k in ("min_logprob", "min_logprob_tail") if getattr(args, k, None) is not None}


def _floor_flags(args: argparse.Namespace) -> str:
    return " and ".join("--" + k.replace("_", "-") for k in _floors(args))


def _add_floor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-logprob", type=_min_logprob, default=None, metavar="FLOOR", help=MIN_LOGPROB_HELP)
    p.add_argument("--min-logprob-tail", type=_min_logprob_tail, default=None, metavar="FLOOR",
                   help=MIN_LOGPROB_TAIL_HELP)


def _texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts)
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise CallinkitError("give at least one TEXT, or '-' and lines on standard input")
    return texts


def cmd_predict(args: argparse.Namespace) -> int:
    from callinkit.serve import Classifier

    texts = _texts(args)
    classifier = Classifier.load(args.bundle, device=args.device)
    if args.explain:
        for text, exp in zip(texts, classifier.explain(texts)):
            if args.json:
                print(json.dumps({"text": text, **exp.to_dict()}, ensure_ascii=False))
                continue
            pred = exp.prediction
            flag = "  (uncertain)" if pred.uncertain else ""
            print(f"{pred.label:<9} p={pred.score:.2f}{flag}  {_highlight(text, exp.spans)}")
            for span in exp.spans:
                print(f"            {span.score:+.2f}  {span.text!r}")
        return 0
    for text, pred in zip(texts, classifier.predict(texts)):
        if args.json:
            print(json.dumps({"text": text, **pred.to_dict()}, ensure_ascii=False))
        else:
            scores = "  ".join(f"{k}={v:.2f}" for k, v in pred.scores.items())
            flag = "  (uncertain)" if pred.uncertain else ""
            print(f"{pred.label:<9} {scores}{flag}  {text}")
    return 0


def _highlight(text: str, spans) -> str:
    """`text` with each explanation span in [[double brackets]]."""
    out, last = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out += [text[last:span.start], "[[", text[span.start:span.end], "]]"]
        last = span.end
    return "".join(out + [text[last:]])


def cmd_score(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return _score_on_ray(args)
    if args.address is not None or args.workers is not None:
        raise CallinkitError("--address and --workers choose where Ray runs; add --engine ray")
    from callinkit.serve import Classifier
    from callinkit.serve.score import score_file

    classifier = Classifier.load(args.bundle, device=args.device)
    rewriter = None
    if args.rewrite:
        from callinkit.serve import Rewriter

        rewriter = Rewriter.load(args.rewriter_bundle, device=args.device, classifier=classifier, **_floors(args))
    elif _floors(args):
        raise CallinkitError(f"{_floor_flags(args)} sets the rewriter's floor: add --rewrite")
    summary = score_file(args.input, args.output, classifier, text_column=args.text_column, id_column=args.id_column,
                         explain=args.explain, rewriter=rewriter, batch_size=args.batch_size, resume=args.resume,
                         keep_text=args.keep_text, progress=not args.quiet)
    print(summary.report())
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return 0


def _score_on_ray(args: argparse.Namespace) -> int:
    from callinkit.serve.score_ray import score_file_ray

    if args.resume:
        raise CallinkitError("--resume works with --engine local; with --engine ray, write into a new OUTPUT folder")
    summary = score_file_ray(args.input, args.output, bundle=args.bundle, rewriter_bundle=args.rewriter_bundle,
                             rewrite=args.rewrite, text_column=args.text_column, id_column=args.id_column,
                             explain=args.explain, batch_size=args.batch_size, keep_text=args.keep_text,
                             device=args.device, address=args.address, workers=args.workers,
                             progress=not args.quiet, **_floors(args))
    print(summary.report())
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return 0


DETOX_NOTE = "the message without the attack: no candidate passed as a call-in"


def cmd_rewrite(args: argparse.Namespace) -> int:
    from callinkit.serve import Rewriter

    texts = _texts(args)
    rewriter = Rewriter.load(args.bundle, device=args.device, **_floors(args))
    k = args.num_candidates or int(rewriter.generation.get("num_candidates", 1))
    for text, result in zip(texts, rewriter.rewrite(texts, num_candidates=k)):
        if args.json:
            print(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))
        else:
            print(f"{text}\n  -> {result.text}" + (f"\n     ({DETOX_NOTE})" if result.detox else "")
                  if result.ok else f"{text}\n  -> (no suggestion) {result.reason}")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from callinkit.serve import Classifier, Rewriter, suggest

    texts = _texts(args)
    classifier = Classifier.load(args.classifier_bundle, device=args.device)
    rewriter = Rewriter.load(args.rewriter_bundle, device=args.device, classifier=classifier, **_floors(args))
    for text in texts:
        result = suggest(text, classifier=classifier, rewriter=rewriter)
        if args.json:
            print(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))
        else:
            line = f"{result.label:<9} p={result.scores[result.label]:.2f}  {text}"
            if result.rewrite is not None:
                line += (f"\n  {'without the attack' if result.rewrite.detox else 'call-in'}: {result.rewrite.text}"
                         if result.rewrite.ok else f"\n  no call-in suggested: {result.rewrite.reason}")
            print(line)
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    try:
        from callinkit.train.release import pack_release
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    pack_release(args.classifier, args.rewriter, path(args.classifier_eval), path(args.rewriter_eval),
                 cards=Path(args.cards), out=path(args.out), force=args.force,
                 baseline_classifier_eval=path(args.baseline_classifier_eval),
                 baseline_rewriter_eval=path(args.baseline_rewriter_eval),
                 baseline_rewriter_system=args.baseline_rewriter_system)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from callinkit.serve.http.command import main as serve_main
    except ImportError as exc:
        raise CallinkitError(f"`callinkit serve` needs the serve extra ({exc.name} is not installed): "
                             "pip install 'callinkit[serve]'") from None
    return serve_main(args.options)


def cmd_data_check(args: argparse.Namespace) -> int:
    from callinkit.corpus.check import NEAR_DUPLICATE_COSINE, format_report, run_check

    threshold = NEAR_DUPLICATE_COSINE if args.threshold is None else args.threshold
    report = run_check(args.paths, embeddings=not args.no_embeddings, threshold=threshold)
    print(format_report(report))
    if report.problems:
        shown = report.problems[:50]
        print(f"\n{len(report.problems)} problem(s):", file=sys.stderr)
        for p in shown:
            print(f"  {p}", file=sys.stderr)
        if len(report.problems) > len(shown):
            print(f"  ... and {len(report.problems) - len(shown)} more", file=sys.stderr)
        return 1
    print("\ndata check passed")
    return 0


def cmd_data_split(args: argparse.Namespace) -> int:
    try:
        from callinkit.corpus.split import write_splits
    except ImportError as exc:
        raise _train_extra_missing(exc) from None
    data = write_splits()
    print(f"wrote splits.json: {data['counts']} (unseen topics in test: {', '.join(data['unseen_topics'])})")
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
    p.add_argument("--precision", choices=["fp32", "int8", "int4"], default=None,
                   help="rewriter v2 (rewriter_lm) runs: onnxruntime-genai precision; default: export.precision")
    p.add_argument("--min-agreement", type=float, default=None, metavar="SHARE",
                   help="rewriter v2: smallest share of quantized greedy rewrites identical to fp32's (default: "
                        "export.min_agreement)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    p.add_argument("--classifier", help="rewriter runs: classifier bundle to copy in for reranking candidates")
    p.add_argument("--no-embedder", action="store_true",
                   help="rewriter v2 runs: no MiniLM similarity embedder (23 MB); the guard then has no "
                        "concern-similarity floor and reranking uses chrF")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("eval", help="evaluate a bundle or checkpoint on labelled data",
                       description="Classifier bundles and checkpoints: macro-F1, accuracy, calibration and "
                                   "per-class F1 on DATA, a JSONL/CSV file with text,label columns or "
                                   "callin_corpus[:split] (default test). Rewriter bundles: STA, SIM, chrF and J "
                                   "against baselines, on DATA = callin_corpus (the test split, its unseen topics, "
                                   "held-out ParaDetox, real news comments and copy fidelity) or a JSONL/CSV file of "
                                   "call_out,call_in pairs.")
    p.add_argument("target", metavar="BUNDLE_OR_CHECKPOINT")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", help="also write the metrics as JSON here")
    p.add_argument("--show-errors", type=int, default=0, metavar="N",
                   help="classifier: print the N most confidently wrong examples")
    p.add_argument("--paradetox", default="../shared/data/paradetox",
                   help="rewriter: ParaDetox folder for the held-out slice (skipped when absent)")
    p.add_argument("--real-comments", default="../shared/data/toxic_spans", metavar="FOLDER",
                   help="rewriter: toxic_spans folder for the real_comments slice, news comments with human-marked "
                        "toxic spans and no reference (skipped when absent)")
    p.add_argument("--limit", type=int, default=None, help="rewriter: at most N rows per slice")
    p.add_argument("--per-slice", type=int, default=None, metavar="N",
                   help="rewriter: a fixed random sample (seeded) of N rows per slice, for a faster eval")
    p.add_argument("--compare", action="append", default=[], metavar="REWRITER_BUNDLE",
                   help="rewriter: also score this bundle (e.g. release 1) on the same rows; repeatable")
    p.add_argument("--num-candidates", type=int, default=None,
                   help="rewriter: candidates per text (default: the bundle's generation.num_candidates)")
    p.add_argument("--slices", help="rewriter: only these slices, comma-separated (e.g. corpus_test,threats; "
                                         "copy_fidelity names the neutral texts' check; second_reference scores a "
                                         "second writer's call-in as a system, the human ceiling)")
    p.add_argument("--embedder", default=None, help="rewriter: embedder bundle for SIM (default: the rewriter's, "
                                                    "else MiniLM exported once into the cache)")
    _add_floor_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify texts with a bundle",
                       description="Classify each TEXT (or lines of standard input with '-').")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--bundle", help="classifier bundle folder (default: $CALLINKIT_CLASSIFIER_BUNDLE or the "
                                    "shipped model)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--explain", action="store_true",
                   help="also show the words that pushed each text toward its label, [[like this]], with scores "
                        "(occlusion: each word left out in turn; costs one model call per word)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("score", help="classify (and rewrite) a JSONL, CSV or Parquet file of messages",
                       description="Stream INPUT (.jsonl, .csv, .tsv or .parquet) in batches, classify every text and "
                                   "append one row per message to OUTPUT (same formats): id, label, scores, "
                                   "uncertain; with --explain the spans, with --rewrite a call-in for each call-out. "
                                   "Constant memory; a killed run continues with --resume.")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("output", metavar="OUTPUT")
    p.add_argument("--text-column", default="text", help="column holding the message (default: text)")
    p.add_argument("--id-column", help="column carried to the output as `id` (default: the input row number)")
    p.add_argument("--explain", action="store_true", help="add the spans behind each label (slower: one model "
                                                         "call per word)")
    p.add_argument("--rewrite", action="store_true", help="also rewrite the call-outs (slow: a generation each)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows read, scored and written together (default: 512, or 64 with --rewrite so a kill "
                        "loses less generation work). The classifier runs them in length-sorted batches of 32: "
                        "512 scored 6,000 corpus texts at 435 messages/s against 309 for 64 here")
    p.add_argument("--resume", action="store_true", help="skip ids already in OUTPUT (continue a killed run)")
    p.add_argument("--keep-text", action="store_true", help="copy the text into OUTPUT too")
    p.add_argument("--bundle", help="classifier bundle (default: $CALLINKIT_CLASSIFIER_BUNDLE or the shipped one)")
    p.add_argument("--rewriter-bundle", help="rewriter bundle for --rewrite (default: the shipped one)")
    _add_floor_arguments(p)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--summary", help="also write the summary as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: one process (default); ray: Ray Data actors, each with its own model, writing "
                        "OUTPUT as a folder of part files (needs callinkit[ray] and --id-column)")
    p.add_argument("--address", help="--engine ray: connect to this Ray cluster (e.g. ray://head:10001 or auto); "
                                     "without it Ray starts on this machine")
    p.add_argument("--workers", type=int, help="--engine ray: model-holding actors, one CPU each (default: every "
                                               "CPU but one, which reads and writes)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("rewrite", help="rewrite call-outs as call-ins with a bundle",
                       description="Rewrite each TEXT (or lines of standard input with '-') as a call-in; with "
                                   "several candidates, the best that passes the guard: by the model's own log-probability "
                                   "(v2 bundles with guard.rank_by logprob) or by call-in probability x concern "
                                   "similarity (release 1).")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--bundle", help="rewriter bundle folder (default: $CALLINKIT_REWRITER_BUNDLE or the "
                                    "shipped model)")
    p.add_argument("--num-candidates", type=int, default=None, metavar="K",
                   help="beam candidates to rerank (default: the bundle's; 1 = greedy)")
    _add_floor_arguments(p)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true", help="one JSON object per line, with every candidate")
    p.set_defaults(func=cmd_rewrite)

    p = sub.add_parser("suggest", help="classify texts and propose a call-in for each call-out",
                       description="Classify each TEXT; when it is a call-out, also print a call-in rewrite.")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--classifier-bundle", help="default: $CALLINKIT_CLASSIFIER_BUNDLE or the shipped model")
    p.add_argument("--rewriter-bundle", help="default: $CALLINKIT_REWRITER_BUNDLE or the shipped model")
    _add_floor_arguments(p)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("release", help="(maintainers) make two bundles the models shipped with the package",
                       description="Copy a classifier and a rewriter bundle into callinkit/models/ (the rewriter "
                                   "reranks with the shipped classifier instead of a copy), with their model cards "
                                   "and `callinkit eval` results. Refuses unless the new models measure better "
                                   "than the shipped ones on the corpus test split (--force to override).")
    p.add_argument("classifier", metavar="CLASSIFIER_BUNDLE",
                   help="a classifier bundle, or 'keep' to release only the rewriter beside the shipped classifier")
    p.add_argument("rewriter", metavar="REWRITER_BUNDLE",
                   help="a rewriter bundle, or 'keep' to release only the classifier beside the shipped rewriter")
    p.add_argument("--classifier-eval", default=None, help="`callinkit eval ... --out` JSON of the classifier "
                                                           "(needed unless CLASSIFIER_BUNDLE is 'keep')")
    p.add_argument("--rewriter-eval", default=None, help="`callinkit eval ... --out` JSON of the rewriter (needed "
                                                         "unless REWRITER_BUNDLE is 'keep'; with 'keep', the kept "
                                                         "rewriter re-measured with the new classifier)")
    p.add_argument("--baseline-classifier-eval", help="an eval of the shipped classifier on today's test split, "
                                                      "to compare with when the split changed since it shipped")
    p.add_argument("--baseline-rewriter-eval", help="the same for the shipped rewriter")
    p.add_argument("--baseline-rewriter-system", default="model_reranked",
                   help="the row of --baseline-rewriter-eval to compare with; `rewriter_reranked` when the shipped "
                        "rewriter was scored with --compare in the new rewriter's eval (same rows, same run)")
    p.add_argument("--cards", default="model_cards", help="folder with classifier.md and rewriter.md")
    p.add_argument("--out", help="default: the installed package's callinkit/models")
    p.add_argument("--force", action="store_true", help="replace the shipped models even if they measure worse")
    p.set_defaults(func=cmd_release)

    # The server's flags are generated from its settings model (one place per option) and parsed by
    # cmd_serve, so that other commands need not import the [serve] extra; "+" as the prefix makes this
    # parser pass every --flag (and --help) through untouched.
    p = sub.add_parser("serve", help="run the HTTP inference server (needs callinkit[serve])", add_help=False,
                       prefix_chars="+", description="Run `callinkit serve --help` for the options.")
    p.add_argument("options", nargs="*", metavar="OPTION", help="see `callinkit serve --help`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("data", help="check the corpus or data files; assign the corpus splits")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    q = data_sub.add_parser("check", help="validate data files (default: the shipped corpus)",
                            description="Validate schema, labels, lengths, duplicates and near-duplicates, "
                                        "call-in opener diversity and (for the shipped corpus) split leakage; "
                                        "print counts by label, topic, style, platform and strategy.")
    q.add_argument("paths", nargs="*", metavar="PATH", help="JSONL/CSV files (pairs, neutral, singles or "
                                                             "text,label); default: the shipped corpus")
    q.add_argument("--no-embeddings", action="store_true", help="skip the MiniLM near-duplicate check")
    q.add_argument("--threshold", type=float, default=None, help="near-duplicate cosine (default 0.85)")
    q.set_defaults(func=cmd_data_check)
    q = data_sub.add_parser("split", help="(maintainers) recompute the corpus's splits.json")
    q.set_defaults(func=cmd_data_split)

    p = sub.add_parser("validate-config", help="check a YAML run config without running it")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    p.set_defaults(func=cmd_validate_config)
    return parser


def _check_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A mistyped command gets a "did you mean" (argparse only lists the choices before Python 3.14)."""
    from callinkit.configlib import did_you_mean

    first = next((a for a in argv if not a.startswith("-")), None)
    commands = [a for a in parser._subparsers._group_actions[0].choices]  # noqa: SLF001 (argparse has no API)
    if first is not None and first not in commands and argv[0] == first:
        hint = did_you_mean(first, commands)
        parser.error(f"unknown command {first!r}{hint}; commands: {', '.join(commands)}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    _check_command(parser, argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from callinkit.errors import TrainingInterrupted

    try:
        return args.func(args)
    except TrainingInterrupted as exc:
        _say(f"callinkit {args.command}: {exc}")
        return 130
    except CallinkitError as exc:
        _say(f"callinkit {args.command}: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def _say(message: str) -> None:
    """A message on stderr in one write: `print` writes the text and its newline separately, so the messages of two
    training processes sharing a terminal or pipe could run together ("...--resumecallinkit train: ...")."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main())
