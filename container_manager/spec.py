"""Building the one `ProcessorSpec` of a processor from settings, config and identity."""

from __future__ import annotations

from collections.abc import Mapping

from kato import contract

from .config import LaunchConfig
from .models import DATA_DIR, LogRotation, ProcessorSpec
from .settings import ContainerSettings

__all__ = ["build_spec", "container_name", "processor_labels", "selector", "volume_name"]

LABEL_MANAGED = "kato.managed"
LABEL_DEPLOYMENT = "kato.deployment"
LABEL_PROCESSOR = "kato.processor_id"
LABEL_SESSION = "kato.session_id"
LABEL_USER = "kato.user_id"
LABEL_CREATED = "kato.created_at"
#: Random per launch; with the manager's key it gives the container's token (see tokens.py).
LABEL_TOKEN_SALT = "kato.token_salt"
#: "true" on a warm-pool processor started before any session asked for it. It carries no
#: session label (so `prune` never takes it for an orphan); the session registry says which
#: session claimed it, since labels cannot change on a running container.
LABEL_POOL = "kato.pool"


def container_name(settings: ContainerSettings, processor_id: str) -> str:
    return f"{settings.name_prefix}-{processor_id}"


def volume_name(processor_id: str) -> str:
    return f"kato-data-{processor_id}"


def selector(settings: ContainerSettings) -> dict[str, str]:
    """Labels that identify this deployment's containers and volumes (managed, deployment and
    the configured extras); `settings.deployment` must be resolved (see `deployment.py`)."""
    if not settings.deployment:
        raise ValueError("selector() needs settings with a resolved deployment")
    return {**settings.extra_labels, LABEL_MANAGED: "true", LABEL_DEPLOYMENT: settings.deployment}


def processor_labels(
    settings: ContainerSettings,
    processor_id: str,
    *,
    session_id: str | None,
    user_id: str | None,
    created_at: str,
) -> dict[str, str]:
    return {
        **selector(settings),
        LABEL_PROCESSOR: processor_id,
        LABEL_SESSION: session_id or "",
        LABEL_USER: user_id or "",
        LABEL_CREATED: created_at,
    }


def build_spec(
    settings: ContainerSettings,
    config: LaunchConfig,
    *,
    processor_id: str,
    token: str,
    labels: Mapping[str, str],
) -> ProcessorSpec:
    env = {
        **settings.otel_env,  # first: the platform's own variables always win
        contract.ENV_PROCESSOR_ID: processor_id,
        contract.ENV_PROCESSOR_NAME: processor_id,
        contract.ENV_DATA_DIR: DATA_DIR,
        contract.ENV_TOKEN: token,
        **config.gene_env(),
    }
    return ProcessorSpec(
        name=container_name(settings, processor_id),
        image=settings.image,
        env=env,
        labels=dict(labels),
        limits=config.limits(settings),
        volume=volume_name(processor_id),
        network=settings.network,
        logs=LogRotation(settings.log_max_size, settings.log_max_files),
    )
