"""emr-autopilot's shared package: shipped in the Lambda layer, imported by every handler."""

__version__ = "0.1.0"
