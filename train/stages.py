"""The staged-run skeleton both rewriter recipes share (release 1's encoder-decoder and v2's decoder LM).

A run folder holds `config.yaml`, one `stages/<i>-<name>/` folder per stage (checkpoints, `final/`, loss
curve, samples, `stage_info.json`), `best/` (the last stage's weights) and `run_info.json`. Each stage starts
from the previous stage's weights; `--resume` skips finished stages and continues the started one from its
last checkpoint; a resumed run may change or add only stages that have not started. Under a multi-process
launch every process trains each stage and only the main one writes the run folder
(`callinkit.train.distributed`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callinkit.config import config_to_yaml
from callinkit.errors import CallinkitError
from callinkit.train.distributed import check_launch, is_main_process
from callinkit.train.plots import plot_loss_curve


def check_resumable(config, saved: Path, run_dir: Path) -> None:
    """A resumed run may change or add stages that have not started yet, and nothing else that training reads:
    its name and run_dir may change (a finished run copied to a new folder can take a new stage under another
    name), and so may the settings only export reads (generation, export)."""
    import yaml

    from callinkit.config import config_from_dict

    old = config_from_dict(yaml.safe_load(saved.read_text(encoding="utf-8")), str(saved))
    started = [i for i, s in enumerate(old.stages) if (run_dir / "stages" / f"{i}-{s.name}").exists()]
    keep = (max(started) + 1) if started else 0
    not_training = [f for f in ("name", "run_dir", "generation", "export") if hasattr(config, f)]
    old = dataclasses.replace(old, **{f: getattr(config, f) for f in not_training})
    if (dataclasses.replace(old, stages=old.stages[:keep]) != dataclasses.replace(config, stages=config.stages[:keep])
            or len(config.stages) < keep):
        raise CallinkitError(f"--resume: the config differs from {saved} in more than the stages that have not "
                             "started; resume with the same settings, or start a new run_dir")


def finish_stage(trainer, result, seconds: float, checkpoint: Path | None, config, stage, stage_dir: Path,
                 tokenizer, extra: dict[str, Any]) -> dict[str, Any]:
    """Save a trained stage's final weights, log history, loss curve and stage_info.json (main process only);
    returns the info."""
    history = trainer.state.log_history
    final = stage_dir / "final"
    trainer.save_model(str(final))  # on every process: it writes from the main one (and gathers under FSDP)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
        (stage_dir / "log_history.json").write_text(json.dumps(history, indent=2) + "\n")
        plot_loss_curve(history, stage_dir / "loss_curve.png", title=f"{config.name}: stage {stage.name}")
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    start_step = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    info = {"stage": stage.name, "steps": result.global_step, "seconds": round(seconds, 1),
            "steps_this_run": result.global_step - start_step,  # a resumed run times only its own steps
            "seconds_per_step": round(seconds / max(1, result.global_step - start_step), 3),
            "final_train_loss": losses[-1] if losses else None, "final_eval_loss": evals[-1] if evals else None,
            **extra, "resumed_from": str(checkpoint) if checkpoint else None}
    if trainer.is_world_process_zero():
        (stage_dir / "stage_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def run_stages(config, run_dir: Path | None, resume: bool, resolve_base: Callable[[], Any],
               build: Callable[[Any], tuple[Any, Any]], load_final: Callable[[Path], tuple[Any, Any]],
               run_stage: Callable[..., dict[str, Any]], run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every stage of `config` in order (skipping finished stages when resuming); returns run_info.

    resolve_base() -> the BaseModel (before any folder is made, so a bad base leaves nothing behind);
    build(base) -> (model, tokenizer) for the first stage; load_final(folder) -> (model, tokenizer) of a
    finished stage; run_stage(model, tokenizer, stage, config, stage_dir, resume) -> that stage's info.
    """
    from transformers import set_seed

    check_launch()
    main = is_main_process()
    run_dir = Path(run_dir or config.run_dir)
    saved = run_dir / "config.yaml"
    if resume:
        if not saved.is_file():
            raise CallinkitError(f"--resume: {run_dir} has no config.yaml; nothing to resume")
        check_resumable(config, saved, run_dir)
    elif (run_dir / "stages").exists():
        raise CallinkitError(f"{run_dir} already has stages; pass --resume to continue, or choose another run_dir")
    from callinkit.train.checkpoints import check_writable, write_text_atomic

    if main:
        check_writable(run_dir)  # an unwritable folder fails before the base model is fetched
    base = resolve_base()
    if main:  # atomic: the other processes of a resumed launch may be reading it in check_resumable
        write_text_atomic(saved, config_to_yaml(config))
    set_seed(config.seed)

    model = tokenizer = None
    stages_info = []
    for index, stage in enumerate(config.stages):
        stage_dir = run_dir / "stages" / f"{index}-{stage.name}"
        if (stage_dir / "final" / "config.json").is_file() and (stage_dir / "stage_info.json").is_file():
            print(f"stage {stage.name}: already finished, loading {stage_dir / 'final'}")
            model, tokenizer = load_final(stage_dir / "final")
            stages_info.append(json.loads((stage_dir / "stage_info.json").read_text()))
            continue
        if model is None:
            model, tokenizer = build(base)
        length = f"{stage.epochs:g} epochs" if getattr(stage, "epochs", 0) else f"{stage.max_steps} steps"
        print(f"stage {stage.name}: {length}")
        stages_info.append(run_stage(model, tokenizer, stage, config, stage_dir, resume))
    info = {"name": config.name, "base_model": base.provenance(), **(run_info or {}), "stages": stages_info,
            "seconds_total": round(sum(s["seconds"] for s in stages_info), 1)}
    if not main:
        return info
    best = run_dir / "best"
    shutil.rmtree(best, ignore_errors=True)
    shutil.copytree(run_dir / "stages" / f"{len(config.stages) - 1}-{config.stages[-1].name}" / "final", best)
    (run_dir / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
    for s in stages_info:
        print(f"stage {s['stage']}: {s['steps']} steps in {s['seconds']:.0f} s; final train loss "
              f"{s['final_train_loss']}, eval loss {s['final_eval_loss']}")
    print(f"run folder: {run_dir}")
    return info
