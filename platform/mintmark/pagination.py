from ninja import Query, Schema
from pydantic import Field


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=200)
    # Bounded so a huge offset is a 422, not a database overflow (500).
    offset: int = Field(0, ge=0, le=2**31 - 1)


def paginate(queryset, params: PageParams, serialize) -> dict:
    """{"items": [...], "count": N} for one page; the queryset carries its own (newest-first)
    ordering."""
    count = queryset.count()
    rows = queryset[params.offset : params.offset + params.limit]
    return {"items": [serialize(row) for row in rows], "count": count}


PageQuery = Query[PageParams]


def page_schema(item: type[Schema]) -> type[Schema]:
    """The {"items": [...], "count": N} response schema for a list of `item`."""
    name = item.__name__.removesuffix("Out") + "Page"
    return type(name, (Schema,), {"__annotations__": {"items": list[item], "count": int}})
