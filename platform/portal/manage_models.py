"""Admin page: the registered models with their licence posture under the active policy and
the reasons for it (the API's posture), their training datasets and model cards."""

from django.shortcuts import render

from generation.models import GenerativeModel
from generation.posture import model_posture
from orgs.access import ADMIN
from policies.selectors import policy_active, policy_active_rules
from portal.access import org_page
from portal.paging import page_of, query_without_page


@org_page(ADMIN)
def models(request):
    org = request.membership.org
    rules = policy_active_rules(org=org)
    page = page_of(
        request,
        GenerativeModel.objects.for_org(org)
        .prefetch_related("trained_on")
        .order_by("name", "version"),
    )
    context = {
        "page": page,
        "query": query_without_page(request),
        "rows": [(model, model_posture(model=model, rules=rules)) for model in page.object_list],
        "policy": policy_active(org=org),
        "rules": rules,
    }
    return render(request, "portal/manage/models.html", context)
