"""Road geometry of the synthetic world: centre line, cross-section and road coordinates.

Frames. The *road world* frame has y down and the flat ground at y = camera_height; x and z span
the ground. The road centre line is a tangent-continuous chain of straight lines and circular
arcs, parametrised by arc length s (metres). At s the heading psi (radians) gives the forward
direction (sin psi, 0, cos psi) and the right normal (cos psi, 0, -sin psi); positive curvature
turns right. Road coordinates (s, d) place a ground point at lateral offset d (metres, + right)
from the centre line at arc length s.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

START_S = -300.0  # the first (straight) segment reaches back this far behind the start
OFF_ROAD = 1e4  # lateral offset given to ground points away from every road segment


@dataclass(frozen=True)
class CrossSection:
    """Lateral layout of the street, metres from the centre line (symmetric on both sides)."""

    lane_width: float
    lanes: int  # per direction
    parking: float = 2.3
    sidewalk: float = 3.6

    @property
    def carriageway(self) -> float:
        """Distance from the centre line to the outer lane edge."""
        return self.lane_width * self.lanes

    @property
    def kerb(self) -> float:
        """Distance from the centre line to the sidewalk (end of the parking strip)."""
        return self.carriageway + self.parking

    @property
    def building_line(self) -> float:
        """Distance from the centre line to the back of the sidewalk."""
        return self.kerb + self.sidewalk

    def lane_centre(self, lane: int) -> float:
        """Lateral offset of lane `lane` (0 = inner) of the right-hand direction."""
        return self.lane_width * (lane + 0.5)


class Road:
    """Centre line: a chain of segments (start s, length, curvature, start pose).

    Segments are drawn one after the other from `rng`, so a longer road extends a shorter one
    drawn from the same seed.
    """

    def __init__(self, rng: np.random.Generator, length: float, curviness: float) -> None:
        starts, lengths, kappas = [START_S], [-START_S + rng.uniform(20.0, 80.0)], [0.0]
        psi_total = 0.0
        while starts[-1] + lengths[-1] < length:
            starts.append(starts[-1] + lengths[-1])
            if kappas[-1] == 0.0 and rng.random() < curviness:
                radius = rng.uniform(80.0, 400.0)
                angle = rng.uniform(math.radians(10.0), math.radians(70.0))
                # Bias turns back towards the initial heading so the road does not loop.
                toward = -1.0 if psi_total > 0 else 1.0
                sign = toward if rng.random() < 0.5 + min(abs(psi_total), 1.5) / 3.0 else -toward
                kappas.append(sign / radius)
                lengths.append(radius * angle)
                psi_total += sign * angle
            else:
                kappas.append(0.0)
                lengths.append(rng.uniform(20.0, 150.0) * (1.5 - curviness))
        self.start = np.array(starts)
        self.length = np.array(lengths)
        self.kappa = np.array(kappas)
        n = len(starts)
        self.x0, self.z0, self.psi0 = np.zeros(n), np.zeros(n), np.zeros(n)
        # Place the first segment so that s = 0 is at the origin heading along +z.
        self.z0[0] = START_S
        for i in range(1, n):
            x, z, psi = self._eval(i - 1, np.array([self.length[i - 1]]))
            self.x0[i], self.z0[i], self.psi0[i] = x[0], z[0], psi[0]

    @property
    def end(self) -> float:
        """Arc length where the generated road ends."""
        return float(self.start[-1] + self.length[-1])

    def _eval(self, i: int | np.ndarray, sigma: np.ndarray):
        kappa = np.asarray(self.kappa[i], dtype=np.float64)
        x0, z0, psi0 = self.x0[i], self.z0[i], self.psi0[i]
        psi = psi0 + kappa * sigma
        curved = kappa != 0.0
        safe = np.where(curved, kappa, 1.0)
        x = np.where(curved, (np.cos(psi0) - np.cos(psi)) / safe, sigma * np.sin(psi0)) + x0
        z = np.where(curved, (np.sin(psi) - np.sin(psi0)) / safe, sigma * np.cos(psi0)) + z0
        return x, z, psi

    def frame_at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre-line point and heading at arc lengths s: (x, z, psi), float64, shape of s."""
        s = np.asarray(s, dtype=np.float64)
        i = np.clip(np.searchsorted(self.start, s, side='right') - 1, 0, len(self.start) - 1)
        return self._eval(i, s - self.start[i])

    def road_coords(self, qx: np.ndarray, qz: np.ndarray, origin: tuple[float, float, float],
                    s_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Road coordinates of ground points given relative to `origin` = (x, z, s).

        qx, qz: float32 arrays, metres, road-world x and z minus origin's x and z.
        Returns (s - origin s, d), float32, shape of qx; d is OFF_ROAD where no segment
        overlapping `s_range` (absolute arc lengths) is nearby.
        """
        ox, oz, os_ = origin
        best_d = np.full(qx.shape, OFF_ROAD, dtype=np.float32)
        best_s = np.zeros(qx.shape, dtype=np.float32)
        first = max(int(np.searchsorted(self.start, s_range[0], side='right')) - 1, 0)
        last = min(int(np.searchsorted(self.start, s_range[1], side='right')), len(self.start))
        for i in range(first, last):
            kappa, psi0 = self.kappa[i], self.psi0[i]
            if kappa == 0.0:
                px, pz = np.float32(self.x0[i] - ox), np.float32(self.z0[i] - oz)
                sn, cs = np.float32(math.sin(psi0)), np.float32(math.cos(psi0))
                rx, rz = qx - px, qz - pz
                sigma = rx * sn + rz * cs
                d = rx * cs - rz * sn
            else:
                cx = np.float32(self.x0[i] + math.cos(psi0) / kappa - ox)
                cz = np.float32(self.z0[i] - math.sin(psi0) / kappa - oz)
                vx, vz = qx - cx, qz - cz
                psi = np.arctan2(vz, -vx) if kappa > 0 else np.arctan2(-vz, vx)
                dpsi = psi - np.float32(psi0)
                dpsi -= np.float32(2 * math.pi) * np.round(dpsi * np.float32(0.5 / math.pi))
                sigma = dpsi * np.float32(1.0 / kappa)
                rho = np.sqrt(vx * vx + vz * vz)
                d = (1.0 - np.float32(abs(kappa)) * rho) * np.float32(1.0 / kappa)
            better = (sigma >= -0.01) & (sigma <= self.length[i] + 0.01)
            better &= np.abs(d) < np.abs(best_d)
            np.copyto(best_d, d, where=better)
            np.copyto(best_s, sigma + np.float32(self.start[i] - os_), where=better)
        return best_s, best_d
