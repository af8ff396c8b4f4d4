from django.urls import path

from portal import (
    audit,
    manage_abuse,
    manage_datasets,
    manage_members,
    manage_models,
    manage_policy,
    manage_sso,
    review,
    staff,
    upscale,
    verify,
    views,
    webhooks,
)
from portal.nav import menu
from sso.oidc import SsoLogoutView
from sso.password import PortalLoginView

app_name = "portal"

ORG = "o/<slug:org>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", SsoLogoutView.as_view(), name="logout"),
    path("verify/", verify.verify, name="verify"),
    path(ORG, views.org_home, name="org_home"),
    menu(path(ORG + "tokens/", views.tokens, name="tokens"), "API tokens"),
    path(ORG + "tokens/<uuid:token_id>/revoke/", views.token_revoke_view, name="token_revoke"),
    # Admin pages (portal/manage_*.py)
    menu(path(ORG + "manage/members/", manage_members.members, name="manage_members"), "Members"),
    path(
        ORG + "manage/members/<uuid:member_id>/role/",
        manage_members.member_role,
        name="manage_member_role",
    ),
    path(
        ORG + "manage/members/<uuid:member_id>/remove/",
        manage_members.member_remove_view,
        name="manage_member_remove",
    ),
    menu(path(ORG + "manage/policy/", manage_policy.policy, name="manage_policy"), "Policy"),
    path(ORG + "manage/policy/edit/", manage_policy.policy_edit, name="manage_policy_edit"),
    path(ORG + "manage/policy/diff/", manage_policy.policy_diff, name="manage_policy_diff"),
    path(
        ORG + "manage/policy/<int:version>/",
        manage_policy.policy_version,
        name="manage_policy_version",
    ),
    menu(
        path(ORG + "manage/datasets/", manage_datasets.datasets, name="manage_datasets"),
        "Datasets",
    ),
    path(
        ORG + "manage/datasets/<uuid:dataset_id>/",
        manage_datasets.dataset,
        name="manage_dataset",
    ),
    path(
        ORG + "manage/datasets/<uuid:dataset_id>/items/<uuid:item_id>/opt-out/",
        manage_datasets.item_opt_out,
        name="manage_item_opt_out",
    ),
    path(
        ORG + "manage/datasets/<uuid:dataset_id>/items/<uuid:item_id>/image/",
        manage_datasets.item_image,
        name="manage_item_image",
    ),
    menu(path(ORG + "manage/models/", manage_models.models, name="manage_models"), "Models"),
    menu(path(ORG + "manage/abuse/", manage_abuse.abuse, name="manage_abuse"), "Abuse"),
    menu(path(ORG + "manage/sso/", manage_sso.sso, name="manage_sso"), "SSO"),
    menu(
        path(ORG + "manage/webhooks/", webhooks.settings_page, name="manage_webhooks"),
        "Webhook hosts",
    ),
    path(ORG + "manage/webhooks/hosts/", webhooks.hosts_save, name="manage_webhooks_hosts"),
    path(ORG + "manage/webhooks/secret/", webhooks.secret_new, name="manage_webhooks_secret"),
    path(
        ORG + "manage/abuse/<uuid:suspension_id>/lift/",
        manage_abuse.suspension_lift_view,
        name="manage_suspension_lift",
    ),
    # Reviewer pages (portal/review.py)
    menu(path(ORG + "review/", review.queue, name="review_queue"), "Review"),
    path(ORG + "review/<uuid:asset_id>/image/", review.image, name="review_image"),
    path(ORG + "review/<uuid:asset_id>/decide/", review.decide, name="review_decide"),
    # Auditor pages (portal/audit.py)
    menu(path(ORG + "audit/", audit.log, name="audit_log"), "Audit log"),
    path(ORG + "audit/verify/", audit.verify, name="audit_verify"),
    menu(path(ORG + "export/", audit.export, name="export"), "Export"),
    path(ORG + "export/provenance/", audit.export_provenance, name="export_provenance"),
    path(ORG + "export/audit/", audit.export_audit, name="export_audit"),
    path(ORG + "assets/<uuid:asset_id>/provenance/", audit.provenance, name="asset_provenance"),
    # Staff pages (portal/staff.py); the job list, job page and files are for every role
    menu(path(ORG + "generate/", staff.generate, name="generate"), "Generate"),
    menu(path(ORG + "jobs/", staff.jobs, name="jobs"), "Jobs"),
    path(ORG + "jobs/<uuid:job_id>/", staff.job, name="job"),
    path(ORG + "jobs/<uuid:job_id>/live/", staff.job_live, name="job_live"),
    path(ORG + "jobs/<uuid:job_id>/cancel/", staff.job_cancel_view, name="job_cancel"),
    menu(path(ORG + "gallery/", staff.gallery, name="gallery"), "Gallery"),
    menu(path(ORG + "webhooks/", webhooks.deliveries, name="webhook_deliveries"), "Webhooks"),
    path(ORG + "webhooks/<uuid:delivery_id>/", webhooks.delivery, name="webhook_delivery"),
    path(
        ORG + "webhooks/<uuid:delivery_id>/redeliver/",
        webhooks.redeliver,
        name="webhook_redeliver",
    ),
    path(ORG + "assets/<uuid:asset_id>/file/", staff.asset_file, name="asset_file"),
    path(ORG + "assets/<uuid:asset_id>/upscale/", upscale.asset_upscale, name="asset_upscale"),
]
