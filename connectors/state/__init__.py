"""Almanac's own data."""
