"""Each function describes itself: an OpenAPI 3.1 document true to its route table, and docs offline."""

import pytest

from tests.factories import PASSWORD, as_role, make_user


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
            ("GET", "/releases/{release_id}/deployments/{deployment_id}"),
            ("PATCH", "/releases/{release_id}/deployments/{deployment_id}"),
            ("POST", "/releases/{release_id}/deployments/{deployment_id}/approvals"),
            ("POST", "/releases/rollback"),
            ("GET", "/releases/freezes"),
            ("DELETE", "/releases/freezes/{freeze_id}"),
            ("PUT", "/releases/environments/{name}"),
            ("GET", "/releases/metrics"),
            ("GET", "/releases/audit/verify"),
            ("GET", "/releases/applications"),
            ("POST", "/releases/applications"),
            ("GET", "/releases/applications/{name}"),
            ("PATCH", "/releases/applications/{name}"),
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
            ("POST", "/auth/teams"),
            ("GET", "/auth/teams"),
            ("GET", "/auth/teams/{name}"),
            ("PUT", "/auth/teams/{name}/members/{user_id}"),
            ("DELETE", "/auth/teams/{name}/members/{user_id}"),
            ("POST", "/auth/bindings"),
            ("GET", "/auth/bindings"),
            ("DELETE", "/auth/bindings/{binding_id}"),
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


def test_the_login_form_is_documented_as_the_oauth2_password_flow(apps, auth):
    """One body per operation (a generated client can't pick between two required bodies); the form
    is the OAuth2 password flow's token URL, which is how OAuth2 tools and Swagger UI find it."""
    document = apps["auth"].test_client().get("/auth/openapi.json").get_json()
    login = document["paths"]["/auth/login"]["post"]

    assert set(login["requestBody"]["content"]) == {"application/json"}
    assert {"401", "429"} <= set(login["responses"])
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["password"]
    assert flow["tokenUrl"] == "/auth/login"
    assert {"bearer": []} in document["paths"]["/auth/me"]["get"]["security"]
    assert {"oauth2": []} in document["paths"]["/auth/me"]["get"]["security"]
    make_user("viewer", email="form@example.com")
    form = {"grant_type": "password", "username": "form@example.com", "password": PASSWORD}
    assert auth.post(flow["tokenUrl"], data=form).get_json()["token_type"] == "bearer"


def _header_names(response: dict) -> set[str]:
    return set(response.get("headers", {}))


def test_response_headers_are_declared(apps):
    document = apps["releases"].test_client().get("/releases/openapi.json").get_json()
    paths, headers = document["paths"], document["components"]["headers"]

    create = paths["/releases"]["post"]["responses"]
    assert {"Location", "ETag", "Idempotent-Replayed", "X-Request-ID"} <= _header_names(create["201"])
    assert headers["Location"]["required"] is True and headers["X-Request-ID"]["required"] is True
    assert "Retry-After" in _header_names(create["503"])
    assert "WWW-Authenticate" in _header_names(create["401"])
    assert "Location" in _header_names(paths["/releases/{release_id}/deployments"]["post"]["responses"]["201"])
    assert "Location" in _header_names(paths["/releases/rollback"]["post"]["responses"]["201"])
    assert "Link" in _header_names(paths["/releases"]["get"]["responses"]["200"])
    assert "ETag" in _header_names(paths["/releases/{release_id}"]["get"]["responses"]["304"])
    every = [r for ops in paths.values() for op in ops.values() for r in op["responses"].values()]
    assert all("X-Request-ID" in _header_names(r) for r in every)
    assert set(headers) >= {"ETag", "Location", "Retry-After", "Idempotent-Replayed", "X-Request-ID", "Link"}
    login = apps["auth"].test_client().get("/auth/openapi.json").get_json()["paths"]["/auth/login"]["post"]
    assert "Retry-After" in _header_names(login["responses"]["429"])


def test_request_headers_are_declared_where_they_are_honoured(apps):
    paths = apps["releases"].test_client().get("/releases/openapi.json").get_json()["paths"]
    auth_paths = apps["auth"].test_client().get("/auth/openapi.json").get_json()["paths"]

    def names(operation: dict) -> set[str]:
        return {p["name"] for p in operation["parameters"] if p["in"] == "header"}

    assert "Idempotency-Key" in names(paths["/releases/{release_id}/deployments"]["post"])
    assert "If-Match" in names(paths["/releases/{release_id}/deployments/{deployment_id}"]["patch"])
    for read in (
        paths["/releases/{release_id}"]["get"],
        paths["/releases/{release_id}/deployments/{deployment_id}"]["get"],
        auth_paths["/auth/me"]["get"],
    ):
        assert "If-None-Match" in names(read) and "304" in read["responses"]


def test_the_documents_read_well_in_generated_code(apps):
    """Plain summaries, named enum members, every limit the validator applies, no impossible defaults."""
    document = apps["releases"].test_client().get("/releases/openapi.json").get_json()
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    schemas = document["components"]["schemas"]

    assert all("`" not in op["summary"] for op in operations)
    assert "`ready`" in document["paths"]["/releases"]["post"]["description"]  # Markdown belongs there
    sort = next(p for p in document["paths"]["/releases"]["get"]["parameters"] if p["name"] == "sort")
    assert sort["schema"]["x-enum-varnames"] == ["CREATED_AT_DESC", "VERSION_DESC"]
    assert schemas["ReleaseIn"]["properties"]["notes"]["maxLength"] == 65536
    assert schemas["ReleasePatch"]["properties"]["notes"]["maxLength"] == 65536
    for name in ("title", "notes", "artifacts"):
        assert "default" not in schemas["ReleasePatch"]["properties"][name]
    status = next(p for p in document["paths"]["/releases"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["draft", "ready", "cancelled"]  # a query value is never null


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
