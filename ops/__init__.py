"""Leaves every layer may use: the app's own metrics and its logs."""
