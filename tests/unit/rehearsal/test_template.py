"""The rehearsal's token resolver: Ref, GetAtt, Join, ImportValue, pseudo parameters; unsupported ones refuse."""

from __future__ import annotations

from typing import Any

import pytest

from finetune.rehearsal.template import TemplateResolver, UnsupportedIntrinsic, placeholder_lookup

PRODUCER = {
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Key": {"Type": "AWS::KMS::Key"}},
    "Outputs": {
        "ExportBucket": {"Value": {"Ref": "Bucket"}, "Export": {"Name": "Producer:Bucket"}},
        "ExportKeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "Producer:KeyArn"}},
    },
}
CONSUMER = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function"}}}


def _resolver() -> TemplateResolver:
    values = {
        ("Producer", "Bucket", None): "bucket-1",
        ("Producer", "Key", "Arn"): "arn:key",
        ("Consumer", "Fn", "Arn"): "arn:fn",
    }

    def lookup(stack: str, logical_id: str, attribute: str | None) -> str:
        return values[(stack, logical_id, attribute)]

    return TemplateResolver({"Producer": PRODUCER, "Consumer": CONSUMER}, lookup, region="us-west-2", account_id="111")


def test_resolves_nested_intrinsics_and_pseudo_parameters() -> None:
    value: dict[str, Any] = {
        "Fn::Join": [
            "",
            ['{"a":"', {"Fn::GetAtt": ["Fn", "Arn"]}, '","b":"arn:', {"Ref": "AWS::Partition"}, ":s3:::",
             {"Fn::ImportValue": "Producer:Bucket"}, '","r":"', {"Ref": "AWS::Region"},
             {"Ref": "AWS::AccountId"}, '"}'],
        ]
    }  # fmt: skip
    assert (
        _resolver().resolve_string(value, "Consumer") == '{"a":"arn:fn","b":"arn:aws:s3:::bucket-1","r":"us-west-2111"}'
    )


def test_import_value_resolves_in_the_exporting_stack() -> None:
    assert _resolver().resolve({"K": {"Fn::ImportValue": "Producer:KeyArn"}}, "Consumer") == {"K": "arn:key"}


def test_select_and_split() -> None:
    value = {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}
    assert _resolver().resolve(value, "Consumer") == "b"


@pytest.mark.parametrize(
    "value",
    [{"Fn::Sub": "x"}, {"Fn::ImportValue": "Nobody:Exports"}, {"Ref": "Missing"}, {"Fn::GetAtt": ["Missing", "Arn"]}],
)
def test_refuses_what_it_cannot_resolve(value: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedIntrinsic):
        _resolver().resolve(value, "Consumer")


def test_plain_dicts_and_literals_are_copied() -> None:
    value = {"Type": "Task", "Parameters": {"a.$": "$.b", "n": [1, True, None]}}
    assert _resolver().resolve(value, "Consumer") == value


def test_placeholder_lookup_marks_references() -> None:
    assert placeholder_lookup("S", "Fn", "Arn") == "<<S.Fn.Arn>>"
    assert placeholder_lookup("S", "Bucket", None) == "<<S.Bucket>>"
