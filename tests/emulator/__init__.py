"""Tests of the local proxy emulator."""
