"""A snapshot of each synthesized template, so a pull request shows exactly what changes in CloudFormation.

Update after an intended change with `make snapshot-update` and commit the files under __snapshots__.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_templates_match_snapshots(template_json: dict[str, dict[str, Any]], snapshot_json: SnapshotAssertion) -> None:
    for name in sorted(template_json):
        assert template_json[name] == snapshot_json(name=name)
