"""Stands in for fullon_orm, which cannot be installed here (private git, Python >= 3.13).

Only what fullon-contract.md section 1 documents: `DatabaseContext` with the `users`,
`exchanges` and `symbols` repositories and the models a collector reads. The rows live in
memory; `_reset()` and `_add_user()` exist for tests only (fullon has no user-creating
call in the contract).
"""

from .database_context import DatabaseContext, _add_user, _reset

__all__ = ["DatabaseContext", "_add_user", "_reset"]
