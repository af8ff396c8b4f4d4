def test_me_reports_org_role_and_quota(personas):
    response = personas["staff"].client().get("/api/me")
    assert response.status_code == 200
    body = response.json()
    assert body["org"]["slug"] == "acme"
    assert body["role"] == "staff"
    quota = body["quota"]
    assert (quota["user_limit"], quota["user_used"], quota["user_left"]) == (1000, 0, 1000)
    assert (quota["org_limit"], quota["org_used"], quota["org_left"]) == (10000, 0, 10000)
