"""Reconcile sources: group claims about the same thing, weigh sources, compare typed values.

``group_claims`` (group.py) -> ``source_trust`` (trust.py) -> ``compare_groups`` (compare.py).
"""
