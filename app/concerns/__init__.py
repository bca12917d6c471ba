"""Concern intake: professionals push a concern to a team; the team screens it.

This package sits above cases (screening opens a case or attaches to one),
so it may use the cases and persons services; neither knows it exists.
"""
