"""An operator's hand on a canary rollout: ``POST .../deployments/{id}/promote`` sends the rest
of the devices the config now (without waiting for the canary's health period; a failed canary
still aborts), ``POST .../deployments/{id}/abort`` rolls the canary devices back to what they
ran before and cancels the rest. A deployment past its canary stage is left as it is.
"""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from aios.controlplane.accounts.auth import CAN_OPERATE
from aios.controlplane.pipelines.deployments import DeploymentService
from aios.controlplane.pipelines.publisher import ConfigPublisher
from aios.controlplane.pipelines.schemas import DeploymentOut
from aios.controlplane.scoped_services import scoped_service


class RolloutControlController(Controller):
    path = "/api/v1/pipelines/{pipeline_id:str}/deployments/{deployment_id:str}"
    tags = ["pipelines"]
    guards = [CAN_OPERATE]
    dependencies = {"deployment_service": scoped_service(DeploymentService)}

    @post("/promote", status_code=HTTP_200_OK, summary="Promote a canary rollout now")
    async def promote(
        self, pipeline_id: FromPath[str], deployment_id: FromPath[str],
        deployment_service: NamedDependency[DeploymentService],
        config_publisher: NamedDependency[ConfigPublisher],
    ) -> DeploymentOut:  # fmt: skip
        return await deployment_service.advance(
            config_publisher, pipeline_id, deployment_id, decision="promote"
        )

    @post("/abort", status_code=HTTP_200_OK, summary="Abort a canary rollout (roll it back)")
    async def abort(
        self, pipeline_id: FromPath[str], deployment_id: FromPath[str],
        deployment_service: NamedDependency[DeploymentService],
        config_publisher: NamedDependency[ConfigPublisher],
    ) -> DeploymentOut:  # fmt: skip
        return await deployment_service.advance(
            config_publisher, pipeline_id, deployment_id, decision="abort"
        )


ROUTES = [RolloutControlController]
