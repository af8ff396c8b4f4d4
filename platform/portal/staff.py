"""Staff pages: the generate form, the job page with live progress and each image's outcome,
the job list, the gallery of released images, and the released file itself. They call the
API's parsing, services and selectors, so the portal refuses exactly what the API refuses."""

from django.contrib import messages
from django.core.files.storage import storages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from generation.controlnets import DEFAULT_CONTROL_SCALE, controlnets_offered
from generation.families import family_traits, scheduler_groups
from generation.job_input import GenerationIn, job_request_from_form
from generation.models import Asset, GenerationJob, GenerativeModel
from generation.posture import model_posture
from generation.selectors import (
    SEES_ALL_JOBS,
    SUBMITTERS,
    asset_released_get,
    assets_visible,
    jobs_visible,
    jobs_with_outcomes,
)
from generation.submission import (
    DEFAULT_SIZE,
    DEFAULT_STRENGTH,
    MAX_GUIDANCE,
    MIN_SIZE,
    default_side,
    job_cancel,
    job_submit,
)
from generation.summaries import job_summary
from generation.upscale import upscaler_offered
from mintmark.errors import ApiError
from orgs.access import ALL_ROLES
from policies.rules import DEPLOYMENT_CONTEXTS
from policies.selectors import policy_active_rules
from portal.access import org_page
from portal.paging import page_of, query_without_page
from portal.staff_outcomes import asset_outcome, job_status
from portal.upscale import upscale_action
from provenance.record import PROVENANCE_READERS
from provenance.stamping import RELEASE_MIN_SIDE, release_size

# The form fields each refusal is about, so the form can point at them.
ERROR_FIELDS = {
    "invalid_prompt": ("prompt",),
    "prompt_blocked": ("prompt",),
    "unknown_model": ("model",),
    "model_not_licensed": ("model",),
    "invalid_mode": ("mode",),
    "mode_not_supported": ("mode", "model"),
    "negative_prompt_not_supported": ("negative_prompt", "model"),
    "too_many_adapters": ("adapters",),
    "adapter_not_allowed": ("adapters",),
    "invalid_adapter_weight": ("adapters",),
    "unknown_adapter": ("adapters",),
    "duplicate_adapter": ("adapters",),
    "controlnet_not_supported": ("control_kind", "model", "mode"),
    "control_kind_not_offered": ("control_kind",),
    "unknown_controlnet": ("control_kind",),
    "controlnet_not_allowed": ("control_kind",),
    "missing_control_kind": ("control_kind",),
    "invalid_control_scale": ("control_scale",),
    "invalid_control_preprocess": ("control_preprocess",),
    "missing_control_image": ("control_image",),
    "invalid_control_image": ("control_image",),
    "control_size_mismatch": ("control_image", "width", "height"),
    "invalid_size": ("width", "height"),
    "size_mismatch": ("width", "height", "image"),
    "invalid_steps": ("steps",),
    "invalid_num_images": ("num_images",),
    "quota_exceeded": ("num_images",),
    "invalid_guidance": ("guidance_scale",),
    "invalid_scheduler": ("scheduler",),
    "invalid_seed": ("seed",),
    "invalid_context": ("context",),
    "invalid_strength": ("strength",),
    "unexpected_strength": ("strength", "mode"),
    "missing_image": ("image",),
    "invalid_image": ("image",),
    "unexpected_image": ("image", "mode"),
    "missing_mask": ("mask",),
    "invalid_mask": ("mask",),
    "mask_size_mismatch": ("mask",),
    "unexpected_mask": ("mask", "mode"),
    "invalid_callback_url": ("callback_url",),
    "callback_not_allowed": ("callback_url",),
    "callback_address_refused": ("callback_url",),
}
ERROR_TITLES = {
    "prompt_blocked": "Your prompt was blocked",
    "model_not_licensed": "This model may not be used",
    "quota_exceeded": "Not enough quota left",
    "user_suspended": "You are suspended from generating",
    "prompt_gate_unavailable": "The prompt check is unavailable: try again later",
}
GALLERY_PER_PAGE = 24
# Sides the size inputs suggest after the models' own (a model draws best at its native size).
COMMON_SIDES = (256, 512, 768, 1024)


def _models_with_posture(org, rules) -> list[dict]:
    models = GenerativeModel.objects.for_org(org).prefetch_related("trained_on")
    return [
        {"model": model, "posture": model_posture(model=model, rules=rules)} for model in models
    ]


def _size_suggestions(rules, models: list[dict]) -> list[dict]:
    """The sides the width and height inputs offer: each usable model's native size first,
    then common sizes, all within the policy's limits."""
    limit = min(rules.max_width, rules.max_height)
    natives: dict[int, list[str]] = {}
    for entry in models:
        side = entry["model"].native_size
        if entry["posture"].usable and side and side <= limit:
            natives.setdefault(side, []).append(str(entry["model"]))
    suggestions = [
        {"side": side, "label": f"native size of {', '.join(names)}"}
        for side, names in natives.items()
    ]
    return suggestions + [
        {"side": side, "label": ""}
        for side in COMMON_SIDES
        if side <= limit and side not in natives
    ]


def _controlnets(org, models: list[dict]) -> list[dict]:
    """The control kinds each usable model offers; the form shows its ControlNet inputs only
    when one does."""
    offered = []
    for entry in models:
        if entry["posture"].usable:
            kinds = sorted({c.kind for c in controlnets_offered(org, entry["model"])})
            if kinds:
                offered.append({"model": entry["model"], "kinds": kinds})
    return offered


def _modes(models: list[dict]) -> list[tuple[str, str]]:
    """The modes some usable model runs, each labelled with the models that run it when not
    all of them do (an upscale needs an upscaler; the chosen model refuses the rest)."""
    usable = [entry["model"] for entry in models if entry["posture"].usable]
    if not usable:
        return list(GenerationJob.Mode.choices)
    offered = []
    for value, label in GenerationJob.Mode.choices:
        runners = [str(model) for model in usable if value in family_traits(model.family).modes]
        if runners:
            named = label if len(runners) == len(usable) else f"{label} ({', '.join(runners)})"
            offered.append((value, named))
    return offered


def _defaults(rules, models: list[dict]) -> dict:
    fields = GenerationIn.model_fields
    usable = [entry["model"] for entry in models if entry["posture"].usable]
    side = default_side(usable[0]) if usable else DEFAULT_SIZE
    traits = family_traits(usable[0].family if usable else "sd15")
    return {
        "mode": fields["mode"].default,
        "model": str(usable[0].pk) if usable else "",
        "width": min(side, rules.max_width),
        "height": min(side, rules.max_height),
        "steps": min(traits.default_steps, rules.max_steps),
        "guidance_scale": traits.default_guidance,
        "scheduler": traits.default_scheduler,
        "num_images": 1,
    }


def _form_page(request, values: dict, error: ApiError | None = None):
    membership = request.membership
    rules = policy_active_rules(org=membership.org)
    models = _models_with_posture(membership.org, rules)
    controlnets = _controlnets(membership.org, models)
    context = {
        "values": {**_defaults(rules, models), **values},
        "models": models,
        "rules": rules,
        "modes": _modes(models),
        "scheduler_groups": scheduler_groups(),
        "contexts": DEPLOYMENT_CONTEXTS,
        "limits": {"min_size": MIN_SIZE, "max_guidance": MAX_GUIDANCE},
        "sizes": _size_suggestions(rules, models),
        "release_min_side": RELEASE_MIN_SIDE,
        "default_strength": DEFAULT_STRENGTH,
        "controlnets": controlnets,
        "offers_canny": any("canny" in entry["kinds"] for entry in controlnets),
        "default_control_scale": DEFAULT_CONTROL_SCALE,
        "error": None,
    }
    if error is not None:
        category = error.extra.get("category") or ""
        context["error"] = {
            "code": error.code,
            "title": ERROR_TITLES.get(error.code, "Please correct the form"),
            "detail": error.detail,
            "category": category.replace("_", " "),
            "reasons": error.extra.get("reasons", []),
            "fields": ERROR_FIELDS.get(error.code, ()),
        }
    return render(
        request,
        "portal/staff/generate.html",
        context,
        status=error.status if error is not None else 200,
    )


@org_page(SUBMITTERS)
def generate(request):
    if request.method != "POST":
        return _form_page(request, {})
    membership = request.membership
    values = {key: value for key, value in request.POST.items() if key in GenerationIn.model_fields}
    try:
        job = job_submit(
            membership=membership, req=job_request_from_form(request.POST, request.FILES)
        )
    except ApiError as exc:
        return _form_page(request, values, exc)
    return redirect("portal:job", org=membership.org.slug, job_id=job.pk)


def _job_context(request, job_id) -> dict:
    membership = request.membership
    job = job_summary(
        jobs_with_outcomes(membership=membership).get_for_org(membership.org, pk=job_id)
    )
    status = job_status(job, membership.org)
    images = [
        {**asset, "outcome": asset_outcome(asset, job, membership.org)} for asset in job["assets"]
    ]
    return {
        "job": job,
        "status": status,
        "images": images,
        "released_size": release_size(job["width"], job["height"]),
        "can_cancel": membership.role in SUBMITTERS and not status["final"],
        "can_read_provenance": membership.role in PROVENANCE_READERS,
        "upscaler": upscale_action(membership, job["assets"]),
        # What the page last showed: the poll answers 204 (nothing to swap) while it holds.
        "version": "-".join(
            [job["state"], str(status["step"]), str(status["total"])]
            + [asset["state"] for asset in job["assets"]]
        ),
    }


@org_page(ALL_ROLES)
def job(request, job_id):
    return render(request, "portal/staff/job.html", _job_context(request, job_id))


@org_page(ALL_ROLES)
def job_live(request, job_id):
    context = _job_context(request, job_id)
    if request.GET.get("seen") == context["version"]:
        return HttpResponse(status=204)
    return render(request, "portal/staff/_job_live.html", context)


@org_page(SUBMITTERS)
@require_POST
def job_cancel_view(request, job_id):
    membership = request.membership
    # Staff see (and so can cancel) only their own jobs; admins any job of the org.
    job = jobs_visible(membership=membership).get_for_org(membership.org, pk=job_id)
    try:
        job_cancel(job=job, actor=membership.user)
    except ApiError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Job cancelled.")
    return redirect("portal:job", org=membership.org.slug, job_id=job.pk)


@org_page(ALL_ROLES)
def jobs(request):
    membership = request.membership
    state = request.GET.get("state", "")
    listed = jobs_visible(membership=membership).select_related("model", "user")
    if state in GenerationJob.State.values:
        listed = listed.filter(state=state)
    return render(
        request,
        "portal/staff/jobs.html",
        {
            "page": page_of(request, listed.order_by("-created_at")),
            "query": query_without_page(request),
            "states": GenerationJob.State.values,
            "state": state,
            "sees_all": membership.role in SEES_ALL_JOBS,
        },
    )


@org_page(SUBMITTERS)
def gallery(request):
    membership = request.membership
    released = (
        assets_visible(membership=membership)
        .filter(state=Asset.State.RELEASED, job__user=membership.user)
        .select_related("job", "stamp")
        .order_by("-created_at")
    )
    return render(
        request,
        "portal/staff/gallery.html",
        {
            "page": page_of(request, released, GALLERY_PER_PAGE),
            "query": query_without_page(request),
            "upscaler": upscaler_offered(
                org=membership.org, rules=policy_active_rules(org=membership.org)
            ),
        },
    )


@org_page(ALL_ROLES)
def asset_file(request, asset_id):
    """The released file, as the API serves it: anything not RELEASED is a 404."""
    asset = asset_released_get(membership=request.membership, asset_id=asset_id)
    return FileResponse(
        storages["release"].open(asset.release_key),
        content_type="image/png",
        as_attachment="download" in request.GET,
        filename=f"{asset.pk}.png",
    )
