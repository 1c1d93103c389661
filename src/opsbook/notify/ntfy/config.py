"""Configuration of the ntfy channel."""

from typing import Annotated, Literal

from pydantic import SecretStr, StringConstraints

from opsbook.config.values import ConfigModel, Duration, HttpURL, Slug, parse_duration

# ntfy's own rule for topic names: ^[-_A-Za-z0-9]{1,64}$.
Topic = Annotated[str, StringConstraints(pattern=r"^[-_A-Za-z0-9]{1,64}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[^,\s]+$")]


class NtfyChannelConfig(ConfigModel):
    """Publishes each notification to an ntfy topic, as push to phones and desktops.

    On the public ntfy.sh anyone who knows a topic's name can read it: pick a long,
    unguessable name, or use a self-hosted ``server`` with an access ``token``.
    """

    name: Slug
    kind: Literal["ntfy"]
    topic: Topic
    server: HttpURL = "https://ntfy.sh"
    token: SecretStr | None = None
    tags: tuple[Tag, ...] = ()
    timeout: Duration = parse_duration("10s")
