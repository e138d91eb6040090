"""Tests of the telephony layer."""
