"""Cases: scheme lifecycles, members, participants, notes and emergency access.

Need-to-know is the rule of this package: a case exists only for its members
(and, for an hour, for a professional who broke the glass). Every case-scoped
load goes through :func:`app.cases.access.readable_cases`.
"""
