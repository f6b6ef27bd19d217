"""The consent decision, read with Python's tomllib: the oracle for tests/consent_test.ts.

Reads a JSON list of texts on standard input and prints, for each, its decision and whether tomllib reads it.
"""
import json
import sys
import tomllib


def decide(text):
    try:
        data = tomllib.loads(text)
    except Exception:
        return "disabled"  # cannot be read with certainty
    table = data.get("telemetry")
    if table is None:
        return "never_asked"
    if not isinstance(table, dict):
        return "disabled"
    consent = table.get("consent")
    if consent is None:
        return "never_asked"
    if consent == "disabled":
        return "disabled"
    if consent == "enabled":
        return "enabled" if table.get("prompt_version") == "1.0" else "never_asked"
    return "disabled"


def valid(text):
    try:
        tomllib.loads(text)
        return True
    except Exception:
        return False


print(json.dumps([{"decision": decide(text), "valid": valid(text)} for text in json.load(sys.stdin)]))
