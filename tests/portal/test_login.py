from django.test import Client

from tests.conftest import PASSWORD


def test_portal_login_then_home_shows_org_and_role(personas):
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    page = client.get("/login/")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/login/",
        {"username": "staff@acme.test", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    home = client.get("/", follow=True)
    assert home.redirect_chain == [("/o/acme/", 302)]
    assert home.status_code == 200
    assert b"Acme" in home.content and b"Staff" in home.content


def test_portal_refuses_a_wrong_password(personas):
    client = Client(HTTP_HOST="localhost")
    response = client.post("/login/", {"username": "staff@acme.test", "password": "nope-nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    assert client.get("/").status_code == 302


def test_home_needs_login(db):
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
