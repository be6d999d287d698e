#!/usr/bin/env bash
# EMR bootstrap action for red-violations: runs on every node before applications start.
# count_red_violations.py talks to S3 through boto3, which the node's python3 may not have.
set -euo pipefail

python3 -c 'import boto3' 2>/dev/null || sudo python3 -m pip install boto3
