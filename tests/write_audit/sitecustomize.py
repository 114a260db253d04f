"""Records which files each process of a multi-process launch writes (tests/test_train_accelerate.py).

Python imports `sitecustomize` at start-up from the first folder on sys.path that has one; the test puts this
folder on PYTHONPATH. It does something only in a process a distributed launcher started (RANK set) and when
CALLINKIT_WRITE_AUDIT names a folder: every path the process opens for writing, creates, renames or removes
is appended to `<folder>/rank-<RANK>.log`, one `event<TAB>path` per line. Python-level writes are seen by
an audit hook; safetensors and torch.save write from native code, so those two functions are wrapped.
"""

import os
import sys

_FOLDER = os.environ.get("CALLINKIT_WRITE_AUDIT")
_RANK = os.environ.get("RANK")

if _FOLDER and _RANK is not None:
    _log = open(os.path.join(_FOLDER, f"rank-{_RANK}.log"), "a", buffering=1)  # before the hook: not recorded
    _WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    _PATH_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.rmtree",
                    "os.symlink", "os.link", "os.utime", "os.chmod"}

    def _record(event: str, path) -> None:
        if isinstance(path, int) or path is None:
            return
        _log.write(f"{event}\t{os.path.abspath(os.fsdecode(path))}\n")

    def _hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = args
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITE_FLAGS):
                _record(event, path)
        elif event in _PATH_EVENTS:
            _record(event, args[0])
            if event in ("os.rename", "os.link", "os.symlink"):
                _record(event, args[1])

    sys.addaudithook(_hook)

    import safetensors.torch
    import torch

    _save_file, _torch_save = safetensors.torch.save_file, torch.save

    def save_file(tensors, filename, *args, **kwargs):
        _record("safetensors.save_file", filename)
        return _save_file(tensors, filename, *args, **kwargs)

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            _record("torch.save", f)
        return _torch_save(obj, f, *args, **kwargs)

    safetensors.torch.save_file, torch.save = save_file, save
