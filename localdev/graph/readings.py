"""Switches for what Graph's docs leave open: the emulator offers each reading so the tests can run the
product against both. Defaults: what Graph documents, or else what the emulator did before (README)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any, Literal

BatchOrder = Literal["shuffled", "given"]
UnknownPresenceIds = Literal["omitted", "error"]
OutOfOfficeOverHeld = Literal["kept", "shown"]


@dataclass
class Readings:
    # Graph (JSON batching): responses may come back in any order; a seeded shuffle shows it.
    batch_order: BatchOrder = "shuffled"
    batch_seed: int = 0
    # Graph (JSON batching): request ids are not case-sensitive, so "a" and "A" are the same id.
    batch_ids_case_insensitive: bool = True
    # Undocumented: whether a computed change (a fade, an expiry) moves sequenceNumber.
    sequence_on_computed_change: bool = True
    # Undocumented: getPresencesByUserId with an id Graph does not know leaves it out, or fails (a guess).
    unknown_presence_ids: UnknownPresenceIds = "omitted"
    # Undocumented: out of office over a presence busier than Available (a held Busy/InACall, Do not
    # disturb): that activity kept (Busy/InACall), or out of office shown in it (Busy/OutOfOffice).
    out_of_office_over_held: OutOfOfficeOverHeld = "kept"
    batch_rng: random.Random = field(init=False, repr=False, compare=False)
    # The readings that made a difference to the answer being built (handlers run one at a time).
    _applied: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.batch_rng = random.Random(self.batch_seed)
        self._applied = []

    def note(self, switch: str, value: object) -> None:
        """This switch's reading changed the answer (or would have, read the other way): for the journal."""
        entry = f"{switch}={str(value).lower() if isinstance(value, bool) else value}"
        if entry not in self._applied:
            self._applied.append(entry)

    def take_applied(self) -> list[str]:
        applied, self._applied = self._applied, []
        return applied

    def answer_order(self, responses: list[Any]) -> list[Any]:
        """A $batch's responses in the order they go back."""
        if self.batch_order == "shuffled":
            responses = list(responses)
            self.batch_rng.shuffle(responses)
        return responses

    def batch_order_note(self, count: int) -> list[str] | None:
        return [f"batchOrder={self.batch_order}"] if count > 1 else None

    def batch_id_key(self, item_id: str) -> str:
        """What two batch request ids are compared by."""
        return item_id.lower() if self.batch_ids_case_insensitive else item_id

    def to_json(self) -> dict[str, Any]:
        return {_camel(f.name): getattr(self, f.name) for f in fields(self) if f.init}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
