def test_me_reports_org_role_and_quota(personas):
    response = personas["staff"].client().get("/api/me")
    assert response.status_code == 200
    body = response.json()
    assert body["org"]["slug"] == "acme"
    assert body["role"] == "staff"
    assert body["quota"]["policy_version"] == 1
