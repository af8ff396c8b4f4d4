from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from orgs.selectors import memberships_of


@login_required
def home(request):
    return render(request, "portal/home.html", {"memberships": memberships_of(user=request.user)})
