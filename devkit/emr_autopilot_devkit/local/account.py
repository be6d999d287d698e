"""The one account and region the local runtime emulates, and the repository whose template it deploys."""

from pathlib import Path

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[3]
