"""The portal's "Upscale x4" action on a released image: a new upscale job of that image with
the organization's upscaler and the image's own prompt, through the same submit service as the
API (so the prompt gate, the input checks and the size rules refuse exactly what they refuse
there)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from generation.models import Asset, GenerationJob, GenerativeModel
from generation.selectors import SUBMITTERS, assets_visible
from generation.submission import JobRequest, job_submit
from generation.upscale import upscaler_offered
from mintmark.errors import ApiError
from policies.selectors import policy_active_rules
from portal.access import org_page


def upscale_action(membership, assets: list[dict]) -> GenerativeModel | None:
    """The upscaler behind the "Upscale x4" action of a job page's released images; None (no
    action) for a role that cannot submit, without released images or without an upscaler."""
    if membership.role not in SUBMITTERS:
        return None
    if not any(asset["state"] == Asset.State.RELEASED for asset in assets):
        return None
    return upscaler_offered(org=membership.org, rules=policy_active_rules(org=membership.org))


@org_page(SUBMITTERS)
@require_POST
def asset_upscale(request, asset_id):
    membership = request.membership
    org = membership.org
    # Another organization's image, or a colleague's for staff, is a 404 like a missing one.
    parent = (
        assets_visible(membership=membership).select_related("job").get_for_org(org, pk=asset_id)
    )
    upscaler = upscaler_offered(org=org, rules=policy_active_rules(org=org))
    if upscaler is None:
        messages.error(request, "This organization has no upscaler it may use.")
        return redirect("portal:job", org=org.slug, job_id=parent.job_id)
    req = JobRequest(
        prompt=parent.job.prompt,
        model=str(upscaler.pk),
        mode=GenerationJob.Mode.UPSCALE,
        parent_asset=parent.pk,
    )
    try:
        job = job_submit(membership=membership, req=req)
    except ApiError as exc:
        messages.error(request, f"Not upscaled: {exc.detail}")
        return redirect("portal:job", org=org.slug, job_id=parent.job_id)
    return redirect("portal:job", org=org.slug, job_id=job.pk)
