"""The photon provider: its configuration block and the resources it serves."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import ClassVar

from ..bridge.api import DataSource, Deferred, EphemeralResource, Provider, Resource
from ..bridge.cty import BOOL, STRING, List, Path, Value
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.schema import Attribute, Block, NestedBlock, Nesting, Schema, validate_attributes
from .cluster import schema as cluster_schema
from .config import (
    ENVIRONMENT,
    check_thumbprint,
    configured_keys,
    endpoints_from_config,
    lock_timeout,
    record_keys,
    records_url,
    validate_hosts,
)
from .data_sources import HostsDataSource, TenantDataSource
from .kubeconfig_ephemeral import KubeconfigEphemeral
from .platform import Platform
from .quota import QuotaResource
from .records import RecordStore
from .tenant import TenantResource

__all__ = ["PhotonProvider"]


_HOST_BLOCK = Block(
    description="One standalone ESXi host. Each host is a failure domain.",
    attributes=(
        Attribute(
            "name",
            STRING,
            "Name of the host within this provider; tenants and clusters refer to hosts by it.",
            required=True,
        ),
        Attribute(
            "address",
            STRING,
            "`host`, `host:port` or `[ipv6]:port` of the host's API (port 443 by default).",
            required=True,
        ),
        Attribute(
            "user", STRING, "User to log in as. Default: `PHOTON_USER`, else `root`.", optional=True
        ),
        Attribute(
            "password",
            STRING,
            "Password of the user. Default: `PHOTON_PASSWORD`.",
            optional=True,
            sensitive=True,
        ),
        Attribute(
            "thumbprint",
            STRING,
            "SHA-256 thumbprint of the host's TLS certificate; "
            "the connection is refused if the host presents another certificate.",
            optional=True,
            validators=(check_thumbprint,),
        ),
        Attribute(
            "insecure", BOOL, "Skip checking the host's certificate (lab use only).", optional=True
        ),
    ),
)

_RECORDS_BLOCK = Block(
    description="Where the platform's records (tenants, quotas, clusters) and its lock live. "
    "Without this block and without `PHOTON_RECORDS_URL`: on a datastore of the records host. "
    "See the records guide for when to choose which.",
    attributes=(
        Attribute(
            "postgres",
            STRING,
            "libpq connection URL of a PostgreSQL database, e.g. "
            "`postgres://photon:secret@db.example:5432/photon?sslmode=verify-full&sslrootcert="
            "/etc/ssl/db-ca.pem`. TLS and other options as for any libpq client. The provider "
            "creates and migrates its tables. Default: `PHOTON_RECORDS_URL`.",
            optional=True,
            sensitive=True,
        ),
        Attribute(
            "encryption_keys",
            List(STRING),
            "Keys that seal the cluster secrets (CA keys, tokens) in the records with "
            "AES-256-GCM, each 32 bytes in base64 (`openssl rand -base64 32`): the first seals, "
            "all open (put a new key first, then `terraform-provider-photon records rekey`). "
            "Default: `PHOTON_RECORDS_KEY` (comma-separated). Without a key the secrets are "
            "stored in clear, and plans that write them warn. Every configuration using the "
            "same records needs the keys that sealed them.",
            optional=True,
            sensitive=True,
        ),
    ),
)


class PhotonProvider(Provider):
    name: ClassVar[str] = "photon"
    schema: ClassVar[Schema] = Schema(
        Block(
            description="Photon Platform style Kubernetes-as-a-Service on ESXi hosts. "
            "Environment variables: "
            + "; ".join(f"`{k}`: {v}" for k, v in ENVIRONMENT.items())
            + ".",
            attributes=(
                Attribute(
                    "records_host",
                    STRING,
                    "Name of the host whose datastore keeps the "
                    "platform's records (tenants, quotas) and their lock. Default: the host "
                    "that holds a photon-platform folder, else the first host by name (never "
                    "the order of the host blocks). Every configuration using the same hosts "
                    "must agree.",
                    optional=True,
                ),
                Attribute(
                    "records_datastore",
                    STRING,
                    "Datastore of the records host for the "
                    "records. Default: its first accessible datastore by name.",
                    optional=True,
                ),
            ),
            blocks=(
                NestedBlock("host", _HOST_BLOCK, Nesting.LIST),
                NestedBlock("records", _RECORDS_BLOCK, Nesting.SINGLE),
            ),
        )
    )
    resources: ClassVar[Mapping[str, type[Resource] | Deferred]] = {
        TenantResource.type_name: TenantResource,
        QuotaResource.type_name: QuotaResource,
        # the cluster's planning and node work is the heaviest import of the domain
        cluster_schema.TYPE_NAME: Deferred(
            cluster_schema.SCHEMA, f"{__package__}.cluster.resource", "ClusterResource"
        ),
    }
    data_sources: ClassVar[Mapping[str, type[DataSource]]] = {
        TenantDataSource.type_name: TenantDataSource,
        HostsDataSource.type_name: HostsDataSource,
    }
    ephemeral_resources: ClassVar[Mapping[str, type[EphemeralResource]]] = {
        KubeconfigEphemeral.type_name: KubeconfigEphemeral,
    }

    def __init__(self) -> None:
        self._platform: Platform | None = None

    def validate_config(self, config: Value, diagnostics: Diagnostics) -> None:
        validate_hosts(config, diagnostics)

    def configure(self, config: Value, diagnostics: Diagnostics) -> None:
        if not config.is_fully_known():
            diagnostics.error(
                "Provider configuration not known yet",
                "The host blocks depend on values known only after apply; the photon "
                "provider needs them to plan. Apply what they depend on first (-target).",
            )
            return
        validate_attributes(self.schema.block, config, diagnostics)
        validate_hosts(config, diagnostics)
        endpoints = endpoints_from_config(config, os.environ, diagnostics)
        lock_wait = lock_timeout(os.environ, diagnostics)
        records_host = config["records_host"].to_python()
        if records_host is not None and records_host not in {e.name for e in endpoints}:
            diagnostics.error(
                "Unknown records host",
                f"records_host {records_host!r} is not one of the configured hosts.",
                Path.root().attr("records_host"),
            )
        url, url_path = records_url(config, os.environ, diagnostics)
        keys = record_keys(configured_keys(config), os.environ, diagnostics)
        if diagnostics.has_errors:
            return
        stop = threading.Event()
        records: RecordStore | None = None
        if url is not None:  # opened now: a bad URL is the configuration's error
            from .records.postgres import PostgresRecords

            try:
                records = PostgresRecords(url, lock_wait, stop, url_path)
            except DiagnosticError as exc:
                diagnostics.add(exc.diagnostic)
                return
        if self._platform is not None:  # reattach mode: a new configuration replaces the old
            self._platform.close()
        self._platform = Platform(
            endpoints,
            records_host=records_host,
            lock_wait=lock_wait,
            records_datastore=config["records_datastore"].to_python(),
            records=records,
            stop=stop,
            record_keys=keys,
        )

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            raise DiagnosticError(
                "Provider not configured",
                "Terraform did not configure the photon provider before using it.",
            )
        return self._platform

    def stop(self) -> None:
        if self._platform is not None:
            self._platform.request_stop()

    def close(self) -> None:
        if self._platform is not None:
            self._platform.close()  # logs what this process cost the hosts (scripts/bench)

    def new_resource(self, type_name: str) -> Resource:
        return self.resources[type_name](self.platform)  # type: ignore[call-arg]

    def new_data_source(self, type_name: str) -> DataSource:
        return self.data_sources[type_name](self.platform)  # type: ignore[call-arg]

    def new_ephemeral_resource(self, type_name: str) -> EphemeralResource:
        return self.ephemeral_resources[type_name](self.platform)  # type: ignore[call-arg]
