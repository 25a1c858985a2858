"""Versioning with live deployments: v1 and v2 of one checkout, served side by side."""
