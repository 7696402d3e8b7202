"""One container described once: the ``docker create`` arguments and the Compose service
read the same fields, secrets never reach a command line, ports stay on loopback."""

from __future__ import annotations

import yaml

from odooplane.containers.spec import LOOPBACK, ContainerSpec, Mount, Publish

SPEC = ContainerSpec(
    name="shop-staging-blue",
    image="odooplane/shop:abc123",
    network="odooplane-shop",
    command=("odoo", "--config=/etc/odoo/odoo.conf"),
    mounts=(
        Mount("volume", "shop-filestore", "/var/lib/odoo"),
        Mount("bind", "/srv/shop/odoo.conf", "/etc/odoo/odoo.conf", read_only=True),
    ),
    publish=(Publish(18001, 8069), Publish(18002, 8072, host_ip="0.0.0.0")),
    labels={"odooplane.project": "shop", "odooplane.env": "staging"},
    env={"PGPASSWORD": "s3cret", "ADMIN_PASSWD": "also-secret"},
    aliases=("staging",),
    stop_timeout=45,
    memory="2g",
)


def test_mount_and_publish_forms() -> None:
    bind = SPEC.mounts[1]
    assert bind.arg() == "type=bind,source=/srv/shop/odoo.conf,target=/etc/odoo/odoo.conf,readonly"
    assert bind.compose() == {
        "type": "bind",
        "source": "/srv/shop/odoo.conf",
        "target": "/etc/odoo/odoo.conf",
        "read_only": True,
    }
    assert SPEC.mounts[0].compose() == {
        "type": "volume",
        "source": "shop-filestore",
        "target": "/var/lib/odoo",
    }
    assert Publish(1, 2).host_ip == LOOPBACK == "127.0.0.1"
    assert Publish(18001, 8069).arg() == "127.0.0.1:18001:8069"


def test_run_args_of_a_service() -> None:
    assert SPEC.run_args() == [
        "--name", "shop-staging-blue",
        "--network", "odooplane-shop",
        "--network-alias", "staging",
        "--label", "odooplane.env=staging",
        "--label", "odooplane.project=shop",
        "--mount", "type=volume,source=shop-filestore,target=/var/lib/odoo",
        "--mount", "type=bind,source=/srv/shop/odoo.conf,target=/etc/odoo/odoo.conf,readonly",
        "--env", "ADMIN_PASSWD",
        "--env", "PGPASSWORD",
        "--publish", "127.0.0.1:18001:8069",
        "--publish", "0.0.0.0:18002:8072",
        "--restart", "unless-stopped",
        "--stop-timeout", "45",
        "--memory", "2g",
        "odooplane/shop:abc123", "odoo", "--config=/etc/odoo/odoo.conf",
    ]  # fmt: skip
    # Values come from the docker command's own environment, never its arguments.
    assert not any("s3cret" in a or "also-secret" in a for a in SPEC.run_args())


def test_a_one_off_run_publishes_nothing_and_never_restarts() -> None:
    args = ContainerSpec("x", "img", "net").run_args(detached_service=False)
    assert args == ["--name", "x", "--network", "net", "--stop-timeout", "30", "img"]
    full = SPEC.run_args(detached_service=False)
    assert "--publish" not in full and "--restart" not in full


def test_compose_service_is_the_same_container() -> None:
    service = SPEC.compose_service()
    assert service == {
        "image": "odooplane/shop:abc123",
        "container_name": "shop-staging-blue",
        "command": ["odoo", "--config=/etc/odoo/odoo.conf"],
        "environment": {"ADMIN_PASSWD": "also-secret", "PGPASSWORD": "s3cret"},
        "volumes": [m.compose() for m in SPEC.mounts],
        "ports": ["127.0.0.1:18001:8069", "0.0.0.0:18002:8072"],
        "labels": {"odooplane.env": "staging", "odooplane.project": "shop"},
        "networks": {"odooplane-shop": {"aliases": ["staging"]}},
        "restart": "unless-stopped",
        "stop_grace_period": "45s",
        "mem_limit": "2g",
    }
    # A Compose file is YAML: the service survives the trip.
    assert yaml.safe_load(yaml.safe_dump({"services": {"odoo": service}})) == {
        "services": {"odoo": service}
    }


def test_a_minimal_compose_service() -> None:
    assert ContainerSpec("x", "img", "net").compose_service() == {
        "image": "img",
        "container_name": "x",
        "networks": {"net": {}},
        "restart": "unless-stopped",
        "stop_grace_period": "30s",
    }
