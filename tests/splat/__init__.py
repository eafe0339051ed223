"""Tests for humanrecon.splat."""
