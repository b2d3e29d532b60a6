"""The typed OpenAPI document: a client generated from ``/openapi.json`` by openapi-python-client walks
the backend-to-backend flow over real HTTP; the document's errors, headers and examples are the
service's own."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from facematch.api import examples, schemas
from facematch.engine.fake import fake_face_image
from partner_client import Api
from servicekit import LiveServer, wait_for

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
ARGS = ("--meta", "none", "--output-path", "fmclient")
CONFIG = """post_hooks: []
project_name_override: fmclient
package_name_override: fmclient
content_type_overrides:
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
"""


@pytest.fixture(scope="module")
def document(live: LiveServer) -> dict[str, Any]:
    response = httpx.get(live.url + "/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


@pytest.fixture(scope="module")
def fmclient(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package openapi-python-client generates from the live server's /openapi.json."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "openapi.json").write_bytes(httpx.get(live.url + "/openapi.json").content)
    (folder / "config.yaml").write_text(CONFIG)
    generated = subprocess.run(
        [str(GENERATOR), "generate", *("--path", "openapi.json", "--config", "config.yaml"), *ARGS],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,  # only ends a hung generator: a loaded machine may take long
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout  # every operation was generated
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("fmclient")
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == "fmclient" or n.startswith("fmclient.")]:
            del sys.modules[name]


def _op(package: str, name: str) -> Any:
    return importlib.import_module(f"fmclient.api.{package}.{name}")


def test_a_generated_client_walks_the_backend_flow(fmclient: ModuleType, api: Api) -> None:
    with fmclient.Client(base_url=api.server.url, raise_on_unexpected_status=True) as client:
        walk(client, api)


def walk(client: Any, api: Api) -> None:
    models = importlib.import_module("fmclient.models")
    types = importlib.import_module("fmclient.types")
    token = _op("token_gateway", "partner_token").sync(
        client=client, client_id=api.creds.client_id, pass_key=api.creds.passkey
    )
    assert isinstance(token, models.TokenResponse) and token.data.expiry_seconds == "3600"
    user = _op("token_gateway", "user_token").sync(
        client=client,
        client_id=api.creds.client_id,
        pass_key=api.creds.passkey,
        x_onboarding_partner=api.user_headers()["x-onboarding-partner"],
        x_partner_user_id="user-1",
        x_partner_user_id_type="TEST_ID",
    )
    user_headers = {"x_onekyc_token": user.data.token, "x_partner_session_id": str(uuid.uuid4())}
    user_headers["x_sdk_session_id"] = "sdk-generated"
    presigned = _op("submissions", "presigned_urls").sync(
        client=client, submission_type="FACE_MATCH", **user_headers
    )
    assert isinstance(presigned, models.PresignedResponse)
    submission_id = presigned.data.submission_id
    for slot, image in ((presigned.data.documents.selfie, 1), (presigned.data.documents.reference, 1)):
        path, _, query = slot.document_url.partition("?")
        uploaded = _op("submissions", "upload_document").sync(
            path.split("/")[-3],
            path.split("/")[-1],
            client=client,
            signature=query.removeprefix("signature="),
            body=types.File(payload=fake_face_image(image)),
        )
        assert isinstance(uploaded, models.UploadResponse) and uploaded.data.status == "UPLOADED"
    confirmed = _op("submissions", "confirm_upload").sync(
        client=client,
        body=models.ConfirmRequest(submission_id=submission_id, metadata=None),
        **user_headers,
    )
    assert isinstance(confirmed, models.ConfirmResponse)
    assert confirmed.data.ui_messages.additional_properties["message_1"].title == "Processing"

    def decided() -> Any:
        got = _op("submissions", "submission_status").sync(submission_id, client=client, **user_headers)
        return got if got.data.status.value in ("COMPLETED", "ERROR") else None

    status = wait_for(decided)
    assert status.data.verification_result.is_approved is True and status.data.next_action.value == "STATUS"
    details = _op("partner", "submission_details").sync(
        client=client, x_onekyc_token=token.data.token, x_submission_id=submission_id
    )
    assert isinstance(details, models.DetailsResponse)
    face = details.data.submission_details.verification_results.face_match
    assert (details.data.result.value, face.result, face.version) == ("VALID", True, "fake-1")
    selfie_url = details.data.submission_details.image_urls.selfie
    image = _op("submissions", "selfie_image").sync_detailed(
        submission_id, client=client, signature=selfie_url.split("signature=")[1]
    )
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    missing = _op("partner", "submission_details").sync(
        client=client, x_onekyc_token=token.data.token, x_submission_id=str(uuid.uuid4())
    )
    assert isinstance(missing, models.ErrorEnvelopeIntegerCode)
    assert (missing.errors[0].code, missing.errors[0].cause) == (1552, "SUBMISSION_DOES_NOT_EXIST")
    body = models.InitiateFlowRequest.from_dict(examples.INITIATE_REQUEST | {"additionalDetails": {}})
    started = _op("partner", "initiate_flow").sync(
        client=client,
        body=body,
        x_onekyc_token=token.data.token,
        x_onboarding_partner=api.user_headers()["x-onboarding-partner"],
        x_partner_user_id="user-1",
        x_partner_user_id_type="TEST_ID",
        x_partner_session_id=str(uuid.uuid4()),
    )
    assert (
        isinstance(started, models.InitiateFlowResponse) and "#/launch-v1?token=" in started.data.launch_url
    )
    again = _op("partner", "initiate_flow").sync(
        client=client,
        body=body,
        x_onekyc_token=token.data.token,
        x_onboarding_partner="SOMEONE-ELSE",
        x_partner_user_id="user-1",
        x_partner_user_id_type="TEST_ID",
        x_partner_session_id=str(uuid.uuid4()),
    )
    assert isinstance(again, models.ErrorEnvelope)
    assert again.errors[0].cause == "ONBOARDING_PARTNER_DOES_NOT_BELONG_TO_CLIENT"


def test_no_operation_advertises_the_frameworks_422(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(document) and "ValidationError" not in document["components"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["operationId"].isidentifier(), (path, method)
            if "422" in operation["responses"]:  # only the contract's INVALID_UPLOAD_ARTIFACT
                causes = operation["responses"]["422"]["content"]["application/json"]["examples"]
                assert set(causes) == {"INVALID_UPLOAD_ARTIFACT"}, path


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def test_required_headers_are_marked_required(document: dict[str, Any]) -> None:
    def required(path: str, method: str) -> set[str]:
        parameters = _operation(document, path, method)["parameters"]
        return {p["name"] for p in parameters if p["in"] == "header" and p.get("required")}

    user = {"x-onekyc-token", "x-partner-session-id", "x-sdk-session-id"}
    assert required("/v1/coe/partner/authentication", "get") == {"client-id", "pass-key"}
    assert required("/coe-partner/v1/initiate-flow", "post") == {
        "x-onekyc-token",
        "x-onboarding-partner",
        "x-partner-user-id",
        "x-partner-user-id-type",
        "x-partner-session-id",
    }
    assert required("/coe/v1/submissions/urls", "get") == user
    assert required("/coe/v1/submissions/urls", "put") == user
    assert required("/coe/v1/submissions/{submission_id}/status", "get") == user
    assert required("/coe/v1/submissions", "get") == {"x-onekyc-token"}  # one of the two ids, either


def test_documented_errors_are_the_ones_sent(document: dict[str, Any], api: Api) -> None:
    initiate = _operation(document, "/coe-partner/v1/initiate-flow", "post")
    documented = initiate["responses"]["400"]["content"]["application/json"]["examples"]
    headers = {"x-onekyc-token": api.partner_token(), **api.user_headers()}
    sent = api.http.post("/coe-partner/v1/initiate-flow", headers=headers, json=examples.INITIATE_REQUEST)
    assert sent.json() == documented["X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY"]["value"]
    details = _operation(document, "/coe/v1/submissions", "get")["responses"]["400"]
    missing = api.details(x_submission_id=str(uuid.uuid4())).json()
    assert missing == details["content"]["application/json"]["examples"]["SUBMISSION_DOES_NOT_EXIST"]["value"]
    assert details["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelopeIntegerCode")
    gateway = _operation(document, "/v1/coe/partner/authentication", "get")["responses"]["401"]
    refused = api.http.get("/v1/coe/partner/authentication", headers={"client-id": "x", "pass-key": "y"})
    assert refused.json() == gateway["content"]["application/json"]["examples"]["UNAUTHORIZED"]["value"]


@pytest.mark.parametrize(
    ("model", "example"),
    [
        (schemas.TokenResponse, examples.PARTNER_TOKEN),
        (schemas.TokenResponse, examples.USER_TOKEN),
        (schemas.PresignedResponse, examples.PRESIGNED),
        (schemas.UploadResponse, examples.UPLOADED),
        (schemas.ConfirmRequest, examples.CONFIRM_REQUEST),
        (schemas.ConfirmResponse, examples.CONFIRMED),
        (schemas.StatusResponse, examples.STATUS),
        (schemas.DetailsResponse, examples.DETAILS),
        (schemas.DetailsResponse, examples.FACE_MATCH),
        (schemas.InitiateFlowRequest, examples.INITIATE_REQUEST),
        (schemas.InitiateFlowResponse, examples.INITIATE),
    ],
)
def test_the_readme_examples_fit_their_models(model: type[schemas.Model], example: dict[str, Any]) -> None:
    parsed = model.model_validate(example)
    assert parsed.model_dump(mode="json", exclude_unset=True) == example


def test_docs_are_served_without_a_cdn(live: LiveServer, document: dict[str, Any]) -> None:
    page = httpx.get(live.url + "/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    bundle = httpx.get(live.url + "/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    initiate = _operation(document, "/coe-partner/v1/initiate-flow", "post")
    assert initiate["requestBody"]["content"]["application/json"]["example"] == examples.INITIATE_REQUEST
    assert initiate["responses"]["200"]["content"]["application/json"]["example"] == examples.INITIATE
