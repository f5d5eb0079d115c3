"""Need-to-know, decided in one place.

`visibility.may_view` is the rule; `predicate.visible_sql` is the same rule as an SQL
`WHERE` fragment, which every read of the store applies. The property tests in
tests/policy check that the two agree on random populations.
"""

from .visibility import Facts, may_release, may_view

__all__ = ["Facts", "may_release", "may_view"]
