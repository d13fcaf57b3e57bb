"""Stands in for fullon_credentials (not installable here): contract 2.2.

`fullon_credentials(ex_id=...)` answers (secret, key), the opposite of the handlers'
order, from EX_ID_{ex_id}_KEY / EX_ID_{ex_id}_SECRET, and raises ValueError when unset.
"""

import os


def fullon_credentials(*, ex_id: int) -> tuple[str, str]:
    key = os.environ.get(f"EX_ID_{ex_id}_KEY")
    secret = os.environ.get(f"EX_ID_{ex_id}_SECRET")
    if key is None or secret is None:
        raise ValueError(f"no credentials for exchange account {ex_id}")
    return secret, key
