"""Paging for portal lists: ?page=N, kept together with the list's filters in the links."""

from django.core.paginator import Page, Paginator

PER_PAGE = 25


def page_of(request, items, per_page: int = PER_PAGE) -> Page:
    # get_page turns a missing, malformed or out-of-range number into the nearest real page.
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
