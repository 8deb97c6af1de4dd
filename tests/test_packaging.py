"""The Dockerfile and compose file, checked by reading them (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_is_one_non_root_image_without_build_tools() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.split("FROM ")[-1]
    assert "USER bankfeeds" in final
    assert "build-essential" not in final, "compilers stay in the build stage"
    assert 'ENTRYPOINT ["bankfeeds"]' in final
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_compose_runs_api_worker_postgres_redis_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("api", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert services["api"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    from app.config import Settings

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    aliases = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
    missing = [
        name
        for name in Settings.model_fields
        if f"`{aliases.get(name, 'BANKFEEDS_' + name.upper())}`" not in table
    ]
    assert not missing, f"settings missing from the README's Configuration table: {missing}"
