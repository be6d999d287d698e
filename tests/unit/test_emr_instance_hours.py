"""NormalizedInstanceHours as the local runtime's EMR reports it when a cluster ends (EMR API reference,
Cluster.NormalizedInstanceHours; the Management Guide's normalization factors)."""

from __future__ import annotations

import pytest

from emr_autopilot_devkit.local.emr_instance_hours import normalization_factor, normalized_instance_hours


@pytest.mark.parametrize(
    ("instance_type", "factor"),
    [("m1.small", 1.0), ("m5.large", 4.0), ("m5.xlarge", 8.0), ("r5.2xlarge", 16.0), ("c5.24xlarge", 192.0)],
)
def test_the_normalization_factor_follows_the_instance_size(instance_type: str, factor: float) -> None:
    # Given an instance type / When its factor is read / Then it is the guide's
    assert normalization_factor(instance_type) == factor


def test_a_size_without_a_factor_counts_nothing_rather_than_a_guess() -> None:
    # Given a bare-metal type, which the guide's table does not list / When read / Then no factor
    assert normalization_factor("m5.metal") is None


def test_instance_groups_count_every_started_hour_at_their_factor() -> None:
    # Given a cluster of one m5.xlarge primary and two r5.2xlarge core nodes that lived 61 minutes
    request = {
        "Instances": {
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "r5.2xlarge", "InstanceCount": 2},
            ]
        }
    }
    # When its normalized hours are counted / Then two started hours of (8 + 2 x 16)
    assert normalized_instance_hours(request, 61 * 60) == 2 * (8 + 2 * 16)


def test_a_fleet_counts_its_first_type_for_its_target_capacity() -> None:
    # Given a fleet cluster: primary 1 x m5.xlarge, core capacity 4 in units of 2 per m5.2xlarge, for 10 minutes
    request = {
        "Instances": {
            "InstanceFleets": [
                {"InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
                 "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]},
                {"InstanceFleetType": "CORE", "TargetSpotCapacity": 4,
                 "InstanceTypeConfigs": [{"InstanceType": "m5.2xlarge", "WeightedCapacity": 2}, {"InstanceType": "x"}]},
            ]
        }
    }  # fmt: skip
    # When counted / Then one hour of 8 + 2 x 16
    assert normalized_instance_hours(request, 600) == 8 + 2 * 16


def test_the_classic_instance_fields_count_one_primary_and_the_rest_as_core() -> None:
    # Given MasterInstanceType/SlaveInstanceType/InstanceCount 3 for half an hour
    request = {"Instances": {"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.large", "InstanceCount": 3}}
    # When counted / Then 8 + 2 x 4 for one started hour
    assert normalized_instance_hours(request, 1800) == 8 + 2 * 4
