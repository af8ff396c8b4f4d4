"""The portal's menu, declared beside the routes in urls.py: an entry shows to the roles its
view admits (from `org_page`), so the menu never offers a page that would refuse the user."""

from dataclasses import dataclass

from django.urls import URLPattern


@dataclass(frozen=True)
class NavEntry:
    label: str
    name: str
    roles: frozenset


MENU: list[NavEntry] = []


def menu(pattern: URLPattern, label: str) -> URLPattern:
    MENU.append(NavEntry(label, pattern.name, pattern.callback.portal_roles))
    return pattern


def menu_for(role: str) -> list[NavEntry]:
    return [entry for entry in MENU if role in entry.roles]
