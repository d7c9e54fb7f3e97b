"""The SageMaker request shapes: AWS's validation messages, type errors, timestamps, CLI metadata."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from trainplane.api.sagemaker import constraints, shapes
from trainplane.domain import errors

ROLE = "arn:aws:iam::123456789012:role/trainer"


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TrainingJobName": "job-1",
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "AlgorithmSpecification": {"TrainingImage": "local/python", "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data"}},
            }
        ],
        "HyperParameters": {"epochs": "3"},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    body.update(overrides)
    return body


def invalid(operation: str, body: object) -> shapes.ShapeInvalid:
    with pytest.raises(shapes.ShapeInvalid) as caught:
        shapes.validate(operation, body)
    return caught.value


def test_a_complete_create_request_is_valid() -> None:
    shapes.validate("CreateTrainingJob", create_body())


def test_every_supported_operation_exists_in_botocores_model() -> None:
    assert shapes.SUPPORTED_OPERATIONS <= set(shapes.service_model().operation_names)


def test_one_error_uses_awss_singular_message() -> None:
    exc = invalid("DescribeTrainingJob", {"TrainingJobName": "bad_name"})
    assert exc.message == (
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    assert exc.field == "trainingJobName"
    assert str(exc) == exc.message


def test_two_errors_on_one_member_are_listed_as_aws_does() -> None:
    """reference/sagemaker.md §1.2: the exact two-error text SageMaker sends."""
    name = "x_y" + "a" * 61
    exc = invalid("DescribeTrainingJob", {"TrainingJobName": name})
    assert exc.message == (
        f"2 validation errors detected: Value '{name}' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    )


def test_missing_required_member_is_value_null() -> None:
    exc = invalid("StopTrainingJob", {})
    assert exc.message == (
        "1 validation error detected: Value null at 'trainingJobName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_json_null_counts_as_missing() -> None:
    exc = invalid("StopTrainingJob", {"TrainingJobName": None})
    assert "Value null at 'trainingJobName'" in exc.message


def test_min_length_of_a_string() -> None:
    exc = invalid("StopTrainingJob", {"TrainingJobName": ""})
    assert "Value '' at 'trainingJobName' failed to satisfy constraint: " in exc.message
    assert "Member must have length greater than or equal to 1" in exc.message


def test_nested_paths_are_lower_camel_and_dotted() -> None:
    body = create_body(AlgorithmSpecification={"TrainingImage": "x" * 256, "TrainingInputMode": "File"})
    exc = invalid("CreateTrainingJob", body)
    assert exc.field == "algorithmSpecification.trainingImage"
    assert exc.message.endswith(
        "at 'algorithmSpecification.trainingImage' failed to satisfy constraint: "
        "Member must have length less than or equal to 255"
    )


def test_list_members_carry_their_one_based_index() -> None:
    channels = [create_body()["InputDataConfig"][0], {"DataSource": {}}]
    exc = invalid("CreateTrainingJob", create_body(InputDataConfig=channels))
    assert exc.field == "inputDataConfig.2.member.channelName"
    assert "Value null at 'inputDataConfig.2.member.channelName'" in exc.message


def test_list_of_strings_member_path() -> None:
    exc = invalid(
        "DeleteTags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:x/y", "TagKeys": [""]}
    )
    assert exc.field == "tagKeys.1.member"


def test_enum_violation_lists_the_value_set_and_the_deep_path() -> None:
    channel = {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "Folder", "S3Uri": "s3://b/d"}},
    }
    exc = invalid("CreateTrainingJob", create_body(InputDataConfig=[channel]))
    assert exc.message == (
        "1 validation error detected: Value 'Folder' at "
        "'inputDataConfig.1.member.dataSource.s3DataSource.s3DataType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ManifestFile, S3Prefix, AugmentedManifestFile, Converse]"
    )


def test_numeric_bounds() -> None:
    exc = invalid("ListTrainingJobs", {"MaxResults": 101})
    assert exc.message.endswith("Member must have value less than or equal to 100")
    exc = invalid("ListTrainingJobs", {"MaxResults": 0})
    assert "Value '0' at 'maxResults'" in exc.message
    assert exc.message.endswith("Member must have value greater than or equal to 1")


def test_list_length_bounds_print_the_list_java_style() -> None:
    exc = invalid(
        "DeleteTags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:x/y", "TagKeys": []}
    )
    assert exc.message == (
        "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_map_keys_are_reported_once_with_all_their_constraints() -> None:
    exc = invalid("CreateTrainingJob", create_body(Environment={"1BAD": "x", "2BAD": "y"}))
    assert exc.message == (
        "1 validation error detected: Value '{1BAD=x, 2BAD=y}' at 'environment' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or equal to "
        "512, Member must have length greater than or equal to 0, Member must satisfy regular "
        "expression pattern: ^[a-zA-Z_][a-zA-Z0-9_]*]"
    )


def test_map_values_are_checked() -> None:
    exc = invalid("CreateTrainingJob", create_body(HyperParameters={"lr": "x" * 2501}))
    assert exc.field == "hyperParameters"
    assert "Map value must satisfy constraint: [Member must have length less than or equal to 2500" in (
        exc.message
    )


def test_map_size_is_bounded() -> None:
    exc = invalid("CreateTrainingJob", create_body(HyperParameters={f"k{i}": "v" for i in range(101)}))
    assert exc.message.endswith("Member must have length less than or equal to 100")


def test_every_violation_is_listed_in_member_order() -> None:
    body = {"TrainingJobName": "bad_name", "RoleArn": "not-an-arn", "OutputDataConfig": {}}
    exc = invalid("CreateTrainingJob", body)
    assert [v.path for v in exc.violations] == [
        "trainingJobName",
        "roleArn",
        "roleArn",
        "outputDataConfig.s3OutputPath",
    ]
    assert exc.message.startswith("4 validation errors detected: ")
    assert exc.message.count("; Value ") == 3


def test_the_message_lists_at_most_a_bounded_number_of_violations() -> None:
    many = [constraints.Violation(f"m{i}", None, "Member must not be null") for i in range(150)]
    message = shapes.validation_message(many)
    assert message.startswith("150 validation errors detected: ")
    assert message.endswith("; and 50 more")
    assert "'m99'" in message and "'m100'" not in message


def test_unicode_tag_patterns_accept_letters_of_any_script() -> None:
    shapes.validate("CreateTrainingJob", create_body(Tags=[{"Key": "команда 1", "Value": "機械学習"}]))


def test_unicode_tag_patterns_reject_symbols() -> None:
    exc = invalid("CreateTrainingJob", create_body(Tags=[{"Key": "cost", "Value": "5€"}]))
    assert exc.message.endswith(
        "at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"
    )


def test_patterns_must_match_the_whole_value() -> None:
    exc = invalid("ListTrainingJobs", {"NameContains": "abc def"})
    assert exc.field == "nameContains"


def test_lengths_count_utf16_code_units_as_java_does() -> None:
    exc = invalid("CreateTrainingJob", create_body(Tags=[{"Key": "😀" * 65, "Value": "v"}]))
    assert exc.message.endswith("Member must have length less than or equal to 128")


@pytest.mark.parametrize("uri", ["file:///srv/data/train", "/srv/data/train"])
def test_local_uris_are_accepted_in_s3_uri_fields(uri: str) -> None:
    """Documented extension: local paths in place of S3 URIs for a self-hosted plane."""
    channel = {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
    }
    body = create_body(
        OutputDataConfig={"S3OutputPath": uri},
        InputDataConfig=[channel],
        CheckpointConfig={"S3Uri": uri},
    )
    shapes.validate("CreateTrainingJob", body)


def test_local_uris_still_obey_length_limits() -> None:
    exc = invalid("CreateTrainingJob", create_body(OutputDataConfig={"S3OutputPath": "/" + "a" * 1024}))
    assert exc.violations[0].path == "outputDataConfig.s3OutputPath"
    assert exc.violations[0].constraint == "Member must have length less than or equal to 1024"
    assert len(exc.violations) == 1


def test_other_uris_in_s3_fields_still_need_the_pattern() -> None:
    exc = invalid("CreateTrainingJob", create_body(OutputDataConfig={"S3OutputPath": "ftp://host/x"}))
    assert "pattern: ^(https|s3)://([^/]+)/?(.*)" in exc.message


def test_local_paths_are_not_accepted_in_other_fields() -> None:
    exc = invalid("CreateTrainingJob", create_body(RoleArn="/etc/role"))
    assert exc.field == "roleArn"


def test_unknown_members_are_ignored() -> None:
    shapes.validate("StopTrainingJob", {"TrainingJobName": "job-1", "FromANewerSdk": {"x": 1}})


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"OutputDataConfig": "s3://b/o"}, "outputDataConfig", "Expected an object at 'outputDataConfig'"),
        (
            {"TrainingJobName": 7},
            "trainingJobName",
            "Expected a string at 'trainingJobName', got a number (7)",
        ),
        ({"InputDataConfig": {"ChannelName": "x"}}, "inputDataConfig", "Expected an array"),
        ({"HyperParameters": {"lr": 0.1}}, "hyperParameters.lr", "Expected a string"),
        ({"EnableNetworkIsolation": "yes"}, "enableNetworkIsolation", "Expected a boolean"),
        ({"StoppingCondition": {"MaxRuntimeInSeconds": "60"}}, "stoppingCondition.maxRuntimeInSeconds", ""),
        ({"StoppingCondition": {"MaxRuntimeInSeconds": 1.5}}, "stoppingCondition.maxRuntimeInSeconds", ""),
        ({"StoppingCondition": {"MaxRuntimeInSeconds": 2**31}}, "stoppingCondition.maxRuntimeInSeconds", ""),
        ({"StoppingCondition": {"MaxRuntimeInSeconds": True}}, "stoppingCondition.maxRuntimeInSeconds", ""),
    ],
)
def test_wrong_json_types_are_serialization_errors(body: dict[str, Any], field: str, expected: str) -> None:
    with pytest.raises(shapes.ShapeSerializationError) as caught:
        shapes.validate("CreateTrainingJob", create_body(**body))
    assert caught.value.field == field
    assert expected in caught.value.message
    assert isinstance(caught.value, errors.Invalid)


def test_a_type_error_wins_over_constraint_errors() -> None:
    """Coral deserialises before it validates, so the type error is the answer."""
    with pytest.raises(shapes.ShapeSerializationError):
        shapes.validate("CreateTrainingJob", {"TrainingJobName": "bad_name", "RoleArn": 5})


@pytest.mark.parametrize("body", [[], "x", None, 3])
def test_a_body_that_is_not_an_object_is_a_serialization_error(body: object) -> None:
    with pytest.raises(shapes.ShapeSerializationError, match="must be a JSON object"):
        shapes.validate("ListTrainingJobs", body)


def test_an_integral_float_is_an_integer() -> None:
    shapes.validate("ListTrainingJobs", {"MaxResults": 10.0})


@pytest.mark.parametrize(
    "value",
    [
        1704110400,
        1704110400.0,
        "1704110400",
        "2024-01-01T12:00:00Z",
        "2024-01-01T13:00:00+01:00",
        "2024-01-01T12:00:00",
    ],
)
def test_timestamps_accept_epoch_seconds_and_iso_8601(value: object) -> None:
    assert shapes.parse_timestamp(value, "creationTimeAfter") == datetime(2024, 1, 1, 12, tzinfo=UTC)
    shapes.validate("ListTrainingJobs", {"CreationTimeAfter": value})


def test_timestamps_keep_fractional_seconds() -> None:
    parsed = shapes.parse_timestamp(1704110400.123456, "creationTimeAfter")
    assert parsed.tzinfo is UTC
    assert parsed.microsecond == 123456


@pytest.mark.parametrize("value", ["yesterday", True, float("nan"), float("inf"), 10**20, [], {}])
def test_bad_timestamps_are_clear_client_errors(value: object) -> None:
    with pytest.raises(shapes.ShapeInvalid, match="at 'creationTimeAfter'") as caught:
        shapes.parse_timestamp(value, "creationTimeAfter")
    assert caught.value.field == "creationTimeAfter"
    with pytest.raises(shapes.ShapeSerializationError):
        shapes.validate("ListTrainingJobs", {"CreationTimeAfter": value})


def test_a_pattern_that_cannot_compile_is_skipped_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    # Java's surrogate-pair ranges (used by Athena shapes in the model) do not compile in Python.
    broken = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    with caplog.at_level(logging.WARNING, logger="trainplane.api.sagemaker.shapes"):
        assert constraints.compiled(broken) is None
        assert constraints.compiled(broken) is None
    assert len([r for r in caplog.records if "shape_pattern_skipped" in r.message]) == 1


def test_every_pattern_in_the_model_compiles_or_is_skipped() -> None:
    model = shapes.service_model()
    patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names}
    skipped = {p for p in patterns if p is not None and constraints.compiled(p) is None}
    assert len(skipped) <= 1  # only the Athena surrogate-range pattern


def test_an_unsupported_operation_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="CreateEndpoint"):
        shapes.validate("CreateEndpoint", {})


def test_bodies_nested_past_the_limit_are_serialization_errors_without_recursing() -> None:
    """Issue 6: thousands of levels reached Python's recursion limit (a 500)."""
    deep: Any = "x"
    for _ in range(50_000):  # far past the recursion limit: a recursive check would blow up
        deep = [deep]
    with pytest.raises(shapes.ShapeSerializationError) as caught:
        shapes.validate("DescribeTrainingJob", {"TrainingJobName": "a", "Extra": deep})
    assert "nested more than" in caught.value.message


def test_bodies_as_deep_as_real_requests_pass_the_depth_check() -> None:
    shaped: Any = "x"
    for _ in range(shapes.MAX_NESTING_DEPTH - 1):
        shaped = {"a": shaped}
    shapes.check_depth(shaped)
    shapes.validate("CreateTrainingJob", create_body())


def test_an_echoed_value_is_cut_to_a_short_prefix() -> None:
    """Issue 6: a 200 MB value was echoed back in the error message."""
    exc = invalid("DescribeTrainingJob", {"TrainingJobName": "y" * 100_000})
    assert f"Value '{'y' * constraints.MAX_ECHOED_CHARS}...' at 'trainingJobName'" in exc.message
    assert len(exc.message) < 600  # two violations (length and pattern), each echoing 103 characters
    mismatch = constraints.TypeMismatch("a", "string", 10**200)
    assert len(str(mismatch)) < 200
