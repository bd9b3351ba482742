"""A twin's measurement channel errors: a fixed gain and offset per unit, plus truncated noise.

A family declares one `ErrorBudget` per kind of channel (its data); each simulated unit draws its
channels' fixed errors inside them from the seed, so a unit is reproducible and its total error
stays inside the budget by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: noise is truncated at this many sigmas, so a budget is a hard bound
NOISE_SIGMAS = 3.0


@dataclass(frozen=True)
class ChannelError:
    """The error of one measurement channel: reading = true * (1 + gain) + offset + noise."""

    gain: float = 0.0
    offset: float = 0.0  # in the channel's unit (V, A, °C; relative for a resistance)
    noise_sigma: float = 0.0

    def apply(self, true_value: float, rng: random.Random) -> float:
        """One unrounded reading of `true_value`, noise truncated at NOISE_SIGMAS (draws on `rng`
        only when the channel is noisy)."""
        noise = 0.0
        if self.noise_sigma > 0.0:
            limit = NOISE_SIGMAS * self.noise_sigma
            noise = min(limit, max(-limit, rng.gauss(0.0, self.noise_sigma)))
        return true_value * (1.0 + self.gain) + self.offset + noise

    def true_for(self, reading: float) -> float:
        """The true value whose noise-free reading is `reading` (to place a value exactly)."""
        return (reading - self.offset) / (1.0 + self.gain)


@dataclass(frozen=True)
class ErrorBudget:
    """The limits a unit's channel errors are drawn within."""

    gain: float
    offset: float
    noise_sigma: float

    def draw(self, rng: random.Random) -> ChannelError:
        """A channel's fixed errors, drawn uniformly inside the budget (gain first, then offset)."""
        return ChannelError(
            gain=rng.uniform(-self.gain, self.gain),
            offset=rng.uniform(-self.offset, self.offset),
            noise_sigma=self.noise_sigma,
        )


EXACT = ChannelError()
"""A channel without error or noise (an ideal front end's; the default of every channel)."""
