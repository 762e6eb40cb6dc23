"""What a container job's `params` hold: validated by hubctl at write time, without Airflow.

Everything here is stored in the configuration and its audit log, so nothing here may be a
secret: plain env values whose names look like secrets are refused, and secrets come from a
Kubernetes Secret (``secret_env``) or an Airflow Connection (``connection_id``) at run time.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hubctl.families import PipelineParams

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
SECRET_LOOKING = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL")
K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SecretEnv(BaseModel):
    """One environment variable taken from a key of a Kubernetes Secret."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=ENV_NAME)]
    secret: Annotated[str, Field(pattern=K8S_NAME, max_length=253)]
    key: Annotated[str, Field(min_length=1, max_length=253)]


class ContainerJobParams(PipelineParams):
    # Defaults that do nothing, so `hubctl config add` works before the image is chosen.
    image: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^\S+$")] = "busybox:1.36"
    command: Annotated[list[str], Field(min_length=1)] = ["true"]
    arguments: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # An Airflow Connection whose URI reaches the container as AIRFLOW_CONN_<ID> (resolved at run time).
    connection_id: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = None

    @field_validator("env")
    @classmethod
    def _no_secrets_in_plain_env(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not re.fullmatch(ENV_NAME, name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if SECRET_LOOKING.search(name):
                raise ValueError(
                    f"{name!r} looks like a secret: params are stored and audited;"
                    " use secret_env (a Kubernetes Secret) or connection_id"
                )
        return env


class KubernetesJobParams(ContainerJobParams):
    namespace: Annotated[str, Field(pattern=K8S_NAME)] = "airflow"
    secret_env: list[SecretEnv] = Field(default_factory=list)


class DockerJobParams(ContainerJobParams):
    docker_url: str = "unix://var/run/docker.sock"
