"""Tests of humanrecon.dvr."""
