"""What each moderator may do: volunteer, coordinator, admin. Pure: no I/O.

The roles nest. A volunteer does the casework (the queue, every action on a case, check-ins,
notes, their own shifts on the rota). A coordinator also runs the rota for everyone, the
accounts of volunteers and coordinators, and the appeals of sanctions. An admin also manages
coordinators and admins.

An account with no role recorded (made before roles existed) is a volunteer: everything such an
account could do before, a volunteer still can; the new powers need an explicit grant.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may: the roles nest."""
        return self.rank >= needed.rank

    @property
    def words(self) -> str:
        """For the dashboard's refusals: "a coordinator", "an admin"."""
        return f"{'an' if self is Role.ADMIN else 'a'} {self.value}"


_RANKS = {Role.VOLUNTEER: 0, Role.COORDINATOR: 1, Role.ADMIN: 2}

# The role of an account made before roles existed, and of a new one made without `--role`.
DEFAULT_ROLE = Role.VOLUNTEER


def parse_role(value: object) -> Role:
    """A role from a request or a command line; ValueError naming the choices otherwise."""
    try:
        return Role(str(value))
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(Role)}") from None


def may_manage(actor: Role, account: Role, new_role: Role | None = None) -> bool:
    """Whether `actor` may change an account that now has role `account` (to `new_role`, or
    remove it when None). A coordinator manages volunteers and coordinators and grants up to
    coordinator; only an admin touches an admin's account or makes an admin."""
    if not actor.allows(Role.COORDINATOR):
        return False
    return actor.allows(account) and (new_role is None or actor.allows(new_role))
