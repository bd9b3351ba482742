"""The errors a DUT family's CAN codec raises for a frame that is not one of its layout's frames.

Written once so that a client or plant catches the same classes whatever the family.
"""

from __future__ import annotations

from hil.errors import ProtocolError


class CanFrameError(ProtocolError):
    """A CAN frame that does not fit the family's layout."""


class UnknownFrameError(CanFrameError):
    """The arbitration ID (or ID format) is not one of the layout's frames."""


class FrameLengthError(CanFrameError):
    """The payload length differs from the length the layout defines for this ID."""


class FrameContentError(CanFrameError):
    """The payload has the right length but a field holds an impossible value."""
