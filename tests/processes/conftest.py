"""The REST server and clients of `tests/rest`, for end-to-end tests of the business processes."""

from tests.rest.conftest import admin, mary, server  # noqa: F401 - fixtures
