"""Fixtures for the device runtime: an identity and an outbox path in tmp_path."""

import pytest

from edge.identity import create_identity


@pytest.fixture
def identity(tmp_path):
    return create_identity(str(tmp_path / "identity"), "conc-a1", "concentrator", "hall-01")


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "outbox.db")
