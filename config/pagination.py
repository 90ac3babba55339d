"""The API's pages: DRF's page-number pagination, with ``?page=`` read as strictly as the schema
documents it (an integer from 1)."""

import re

from rest_framework import pagination
from rest_framework.exceptions import NotFound

_PAGE_NUMBER = re.compile(r"[0-9]{1,9}")


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF reads an empty ``?page=`` as page 1 and passes the rest to ``int()``, which takes
    " 2", "+2" and "2_0" too: each of those is a 404 here, like any page that does not exist."""

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not _PAGE_NUMBER.fullmatch(raw):
            raise NotFound(
                self.invalid_page_message.format(page_number=raw, message="Not a page number.")
            )
        return raw
