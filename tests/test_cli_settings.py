"""One source of truth for settings: an option the user does not give is None on the command line, so the config
object's default applies; the help shows that default, read from the config."""

from __future__ import annotations

import pytest

from segaudit.app.audit_config import AuditConfig
from segaudit.app.cli import audit_command, fairness_command, privacy_command
from segaudit.app.cli.main import build_parser
from segaudit.app.cli.settings import default, given
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.privacy.config import PrivacyConfig

MINIMAL = {"fairness": ["fairness", "--table", "t.csv", "--out", "o"],
           "privacy": ["privacy", "--model", "m", "--data", "d", "--out", "o"],
           "audit": ["audit", "--model", "m", "--data", "d", "--out", "o"]}


@pytest.mark.parametrize(("command", "names", "config"), [
    ("fairness", fairness_command.OVERRIDES, FairnessConfig()),
    ("privacy", privacy_command.OVERRIDES, PrivacyConfig()),
])
def test_options_not_given_leave_the_configs_defaults(command: str, names: tuple[str, ...], config) -> None:
    args = build_parser().parse_args(MINIMAL[command])
    assert given(args, names) == {}
    assert all(hasattr(config, name) for name in names)  # each override is a field of the config


def test_an_option_given_overrides_only_itself() -> None:
    args = build_parser().parse_args([*MINIMAL["fairness"], "--margin", "0.03", "--seed", "0"])
    assert given(args, fairness_command.OVERRIDES) == {"margin": 0.03, "seed": 0}  # 0 is given, not "unset"


def test_the_audit_command_builds_its_configs_from_the_defaults(monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr("segaudit.app.full_audit.run_audit",
                        lambda model, data, out, config, **_: seen.setdefault("config", config))
    monkeypatch.setattr(audit_command, "_summary", lambda *a: None)
    args = build_parser().parse_args(MINIMAL["audit"])
    assert args.handler(args) == 0
    config = seen["config"]
    assert config == AuditConfig(fairness=FairnessConfig(), privacy=PrivacyConfig())


def test_help_shows_the_config_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fairness", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {FairnessConfig().margin} = " in text and f"(default {FairnessConfig().min_group_size})" in text
    assert default(PrivacyConfig, "shadow_models") == PrivacyConfig().shadow_models


def test_privacy_population_none_is_the_word_not_an_option_left_out() -> None:
    from segaudit.app.cli.privacy_command import privacy_config

    assert privacy_config(build_parser().parse_args(MINIMAL["privacy"])) == PrivacyConfig()
    args = build_parser().parse_args([*MINIMAL["privacy"], "--population-split", "none"])
    assert privacy_config(args).population_split is None


@pytest.mark.parametrize("command", ["privacy", "audit"])
def test_shadows_failed_for_good_is_exit_4_with_the_rerun_hint(command: str, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import segaudit.app.full_audit as whole_audit
    import segaudit.audit.privacy as privacy
    from segaudit.app.cli.main import main
    from segaudit.audit.privacy.executors import ShadowFailure, ShadowsFailed

    def fail(*args, **kwargs):
        raise ShadowsFailed([ShadowFailure(2, "abc123", "node lost")], 4, tmp_path / "cache")

    monkeypatch.setattr(privacy, "run_privacy_audit", fail)
    monkeypatch.setattr(whole_audit, "run_audit", fail)
    assert main([*MINIMAL[command][:-1], str(tmp_path / "out")]) == 4
    error = capsys.readouterr().err.strip()
    assert error.startswith("segaudit: error: 1 of 4 shadow models failed: shadow 2 (key abc123): node lost")
    assert "run the same command again to resume" in error and not (tmp_path / "out").exists()
