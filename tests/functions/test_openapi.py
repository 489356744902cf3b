"""Each function describes itself: an OpenAPI 3.1 document true to its route table, and docs offline."""

import pytest

from tests.factories import as_role


@pytest.mark.parametrize("name", ["auth", "releases", "health"])
def test_each_function_serves_its_openapi_document_without_a_token(apps, name):
    response = apps[name].test_client().get(f"/{name}/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
        "errors",
    ]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize("name", ["auth", "releases", "health"])
def test_the_document_lists_every_route_the_function_answers(apps, name):

    document = apps[name].test_client().get(f"/{name}/openapi.json").get_json()
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}

    expected = (
        {
            ("GET", "/releases"),
            ("POST", "/releases"),
            ("GET", "/releases/{release_id}"),
            ("PATCH", "/releases/{release_id}"),
            ("DELETE", "/releases/{release_id}"),
            ("POST", "/releases/{release_id}/deployments"),
            ("POST", "/releases/{release_id}/deployments/preflight"),
            ("PATCH", "/releases/{release_id}/deployments/{deployment_id}"),
            ("POST", "/releases/{release_id}/deployments/{deployment_id}/approvals"),
            ("POST", "/releases/rollback"),
            ("GET", "/releases/freezes"),
            ("DELETE", "/releases/freezes/{freeze_id}"),
            ("PUT", "/releases/environments/{name}"),
            ("GET", "/releases/metrics"),
            ("GET", "/releases/audit/verify"),
        }
        if name == "releases"
        else {
            ("POST", "/auth/register"),
            ("POST", "/auth/login"),
            ("POST", "/auth/refresh"),
            ("POST", "/auth/logout"),
            ("GET", "/auth/me"),
            ("POST", "/auth/me/password"),
            ("GET", "/auth/users"),
            ("PATCH", "/auth/users/{user_id}"),
            ("POST", "/auth/tokens"),
            ("GET", "/auth/tokens"),
            ("DELETE", "/auth/tokens/{token_id}"),
        }
        if name == "auth"
        else {("GET", "/health")}
    )
    assert expected <= documented


def test_operations_declare_the_statuses_they_return(apps):
    paths = apps["releases"].test_client().get("/releases/openapi.json").get_json()["paths"]

    create = paths["/releases"]["post"]
    patch = paths["/releases/{release_id}"]["patch"]
    assert {"201", "400", "401", "403", "409", "413", "422", "503"} <= set(create["responses"])
    assert create["responses"]["409"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert "412" in patch["responses"] and "If-Match" in [p["name"] for p in patch["parameters"]]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ReleaseIn"}


@pytest.mark.parametrize(
    ("name", "path"), [("releases", "/releases"), ("auth", "/auth/users"), ("auth", "/auth/tokens")]
)
def test_every_list_documents_the_400_of_a_bad_cursor(apps, name, path):
    paths = apps[name].test_client().get(f"/{name}/openapi.json").get_json()["paths"]

    assert "400" in paths[path]["get"]["responses"]


def test_request_schemas_are_the_validators_own(apps):
    schemas = apps["releases"].test_client().get("/releases/openapi.json").get_json()["components"]["schemas"]

    release = schemas["ReleaseIn"]
    assert release["additionalProperties"] is False
    assert release["properties"]["application"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,62}$"
    assert release["required"] == ["application", "version", "title"]
    assert schemas["Artifact"]["properties"]["digest"]["pattern"] == "^sha256:[0-9a-f]{64}$"


def test_the_login_form_is_documented_for_oauth2_password_tools(apps):
    login = apps["auth"].test_client().get("/auth/openapi.json").get_json()["paths"]["/auth/login"]["post"]

    assert set(login["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert {"401", "429"} <= set(login["responses"])


@pytest.mark.parametrize("name", ["auth", "releases", "health"])
def test_the_docs_page_and_its_assets_are_served_by_the_function(apps, name):
    client = apps[name].test_client()

    page = client.get(f"/{name}/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # nothing from a CDN
    assert f'"/{name}/openapi.json"' in html
    for asset in (f"/{name}/docs/swagger-ui-bundle.js", f"/{name}/docs/swagger-ui.css"):
        assert asset in html
        assert client.get(asset).status_code == 200


def test_docs_need_no_token_but_the_api_does(apps):
    client = apps["releases"].test_client()

    assert client.get("/releases/docs").status_code == 200
    assert client.get("/releases").status_code == 401
    _, viewer = as_role("viewer")
    assert client.get("/releases", headers=viewer).status_code == 200


def test_responses_are_typed_so_the_fuzzing_checks_real_bodies_against_them(apps):
    document = apps["releases"].test_client().get("/releases/openapi.json").get_json()
    paths, schemas = document["paths"], document["components"]["schemas"]

    single = paths["/releases/{release_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    listed = paths["/releases"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert single == {"$ref": "#/components/schemas/ReleaseDetailOut"}
    assert listed["properties"]["items"]["items"] == {"$ref": "#/components/schemas/ReleaseOut"}
    assert set(schemas["DeploymentOut"]["required"]) >= {
        "id",
        "release_id",
        "environment",
        "kind",
        "status",
        "approvals",
    }


def test_health_documents_its_503_body(apps):
    health = apps["health"].test_client().get("/health/openapi.json").get_json()["paths"]["/health"]["get"]

    assert health["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthOut"
    }
