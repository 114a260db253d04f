"""Server settings: one typed object from flags over CALLINKIT_* variables, and the `callinkit serve` command."""

from __future__ import annotations

import pytest
from test_server_support import without_callinkit_env

from callinkit.cli import main
from callinkit.errors import ConfigError
from callinkit.serve.http.command import build_parser
from callinkit.serve.http.settings import ServerSettings, settings_from_args


def parse(argv: list[str]) -> ServerSettings:
    return settings_from_args(vars(build_parser().parse_args(argv)))


def test_defaults_are_safe():
    with without_callinkit_env():
        s = ServerSettings()
    assert (s.host, s.port, s.device, s.workers) == ("127.0.0.1", 8000, "cpu", 1)
    assert s.api_keys == () and s.cors_origins == () and s.rewriter_bundle is None


def test_environment_fills_settings_and_flags_win(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLINKIT_MAX_TEXTS", "5")
    monkeypatch.setenv("CALLINKIT_PORT", "9000")
    monkeypatch.setenv("CALLINKIT_API_KEYS", " alpha , beta,")
    monkeypatch.setenv("CALLINKIT_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("CALLINKIT_CLASSIFIER_BUNDLE", str(tmp_path))
    s = parse(["--port", "9100", "--max-wait-ms", "2.5", "--device", "cuda"])
    assert s.max_texts == 5 and s.port == 9100 and s.max_wait_ms == 2.5 and s.device == "cuda"
    assert [k.get_secret_value() for k in s.api_keys] == ["alpha", "beta"]
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.classifier_bundle == tmp_path
    assert "alpha" not in repr(s)  # keys are secrets: never printed or logged


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        parse(["--port", "http", "--max-batch-size", "0", "--request-timeout-s", "-1"])
    problems = "\n".join(err.value.problems)
    assert len(err.value.problems) == 3
    assert "--port / CALLINKIT_PORT" in problems and "--max-batch-size / CALLINKIT_MAX_BATCH_SIZE" in problems
    assert "--request-timeout-s" in problems


def test_queue_must_hold_a_full_request():
    with pytest.raises(ConfigError, match="max_queue .* must be at least max_texts"):
        parse(["--max-queue", "10", "--max-texts", "20"])


def test_settings_round_trip_through_the_environment(monkeypatch):
    """Worker processes rebuild their settings from to_env(): nothing may be lost on the way."""
    original = ServerSettings(max_texts=7, api_keys="a,b", cors_origins="https://x.example", max_wait_ms=1.5)
    for key, value in original.to_env().items():
        monkeypatch.setenv(key, value)
    assert ServerSettings() == original


def test_serve_help_lists_every_option_with_its_variable(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ServerSettings.model_fields:
        assert f"--{name.replace('_', '-')}" in out
    assert "CALLINKIT_MAX_BATCH_SIZE" in " ".join(out.split())


def test_serve_fails_fast_on_a_missing_bundle(tmp_path, capsys):
    assert main(["serve", "--classifier-bundle", str(tmp_path / "nope")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
    assert main(["serve", "--max-texts", "many"]) == 2
    assert "--max-texts / CALLINKIT_MAX_TEXTS" in capsys.readouterr().err


def test_the_server_serves_the_default_rewriter_unless_told_otherwise(tmp_path, monkeypatch):
    from callinkit.serve.http.command import with_default_rewriter

    monkeypatch.setenv("CALLINKIT_REWRITER_BUNDLE", str(tmp_path / "mine"))
    assert with_default_rewriter(ServerSettings()).rewriter_bundle == tmp_path / "mine"
    assert with_default_rewriter(ServerSettings(rewriter_bundle="none")).rewriter_bundle is None
    given = ServerSettings(rewriter_bundle=tmp_path / "given")
    assert with_default_rewriter(given).rewriter_bundle == tmp_path / "given"
