"""Conformance tests: the local runtime against AWS's documentation.

Each test names the AWS source it checks (page and section, or a public issue with a real AWS
trace) in its docstring, so a reader can tell documented behaviour from inferred behaviour.
Small ad-hoc state machines run on the local runtime (moto + the project's patches, fast clock).
"""
