"""A secret key also accepts <key>_file: PATH, read from a file (Docker/Kubernetes secrets)."""

from pathlib import Path
from textwrap import dedent

import pytest

from opsbook.config import ConfigError, load_config
from opsbook.notify.email.config import EmailChannelConfig
from opsbook.notify.webhook.config import WebhookChannelConfig

CONFIG = """\
service: {name: Shop}
channels:
  - name: mail
    kind: email
    to: [ops@example.com]
    from: opsbook@example.com
    smtp:
      host: smtp.example.com
      %s
  - name: hook
    kind: webhook
    url: https://hooks.example.com/x
    %s
"""


def write(tmp_path: Path, smtp_line: str, webhook_line: str = "timeout: 5s") -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(CONFIG % (smtp_line, webhook_line), encoding="utf-8")
    return path


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{i.line}:{i.column}: {i.path}: {i.message}" for i in caught.value.issues]


def test_secret_is_read_from_the_file_without_its_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_text("s3cr3t pass\n", encoding="utf-8")
    (tmp_path / "hook").write_text("hmac-key\r\n", encoding="utf-8")
    config = load_config(
        write(tmp_path, f"password_file: {tmp_path / 'smtp'}", "secret_file: hook")
    )
    mail, hook = config.channels
    assert isinstance(mail, EmailChannelConfig)
    assert isinstance(hook, WebhookChannelConfig)
    assert mail.smtp.password is not None
    assert mail.smtp.password.get_secret_value() == "s3cr3t pass"
    # A relative path is read next to the configuration file.
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "hmac-key"


def test_secrets_never_show_in_dumps_or_reprs(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_text("s3cr3t\n", encoding="utf-8")
    config = load_config(write(tmp_path, "password_file: smtp"))
    assert "s3cr3t" not in repr(config)
    assert "s3cr3t" not in str(config.model_dump(mode="json"))


def test_giving_both_the_secret_and_its_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_text("x", encoding="utf-8")
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        dedent(
            """\
            service: {name: Shop}
            channels:
              - name: hook
                kind: webhook
                url: https://hooks.example.com/x
                secret: abc
                secret_file: smtp
            """
        ),
        encoding="utf-8",
    )
    assert issues(path) == [
        '7:18: channels[0].secret_file: give either "secret" or "secret_file", not both'
    ]


def test_a_missing_secret_file_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, "password_file: /nonexistent/smtp")
    assert issues(path) == [
        "9:22: channels[0].smtp.password_file: cannot read secret file "
        '"/nonexistent/smtp": No such file or directory'
    ]


def test_an_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    assert issues(write(tmp_path, "password_file: empty")) == [
        f'9:22: channels[0].smtp.password_file: secret file "{tmp_path / "empty"}" is empty'
    ]


def test_file_keys_exist_only_for_secret_fields(tmp_path: Path) -> None:
    assert issues(write(tmp_path, "host_file: /etc/hostname")) == [
        '9:7: channels[0].smtp.host_file: unknown key "host_file" '
        '(only secrets take a _file form), did you mean "host"?'
    ]
    assert EmailChannelConfig.model_fields["smtp"].annotation is not None
    assert "password_file" in EmailChannelConfig.model_fields["smtp"].annotation.yaml_keys()
