"""Shading of the synthetic world's 'photo' look: photo textures lit by sun and sky.

Boxes with a material (`BoxTable.material`) and the ground (asphalt, kerb, paving, verge, one
tile of each per sequence) take colours from the CC0 photo textures (`synth_photo`), tinted
by the box colour; windows and lane markings are drawn on top as in the classic look. Light
is a sun (colour, strength, direction; weak on overcast sequences) whose light is blocked on
the ground by the cast shadows of every box (`synth_shadow`), plus sky light that reaches
upward-facing surfaces more than vertical ones and is dimmed under cars. The sky is a CC0
panorama turned to a random heading. The output is linear radiance;
`synth_camera.CameraLook` makes the 8-bit image.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from rmdepth_ros.synth import photo
from rmdepth_ros.synth.boxes import BoxTable
from rmdepth_ros.synth.render import GROUND
from rmdepth_ros.synth.shade import Shader
from rmdepth_ros.synth.shadow import ground_shadow
from rmdepth_ros.synth.texture import box_albedo, markings

PAINT = np.array([0.75, 0.75, 0.72], np.float32)  # linear albedo of road paint
KERB_WIDTH = 0.25  # metres of kerb stone on the ground strip


@dataclass(frozen=True)
class SunSky:
    """Light of one sequence (road-world directions, y down; radiance in linear units)."""

    sun_dir: tuple[float, float, float]  # unit, towards the sun
    sun: tuple[float, float, float]  # sun irradiance per channel (0 when overcast)
    sky: tuple[float, float, float]  # sky light on an upward surface per channel
    panorama: int
    heading: float  # radians added to the panorama azimuth
    sky_gain: float
    tiles: tuple[int, int, int, int]  # asphalt, kerb, paving, verge photo tiles

    @staticmethod
    def random(rng: np.random.Generator) -> SunSky:
        lib = photo.library()
        elev, azim = rng.uniform(0.2, 1.2), rng.uniform(0.0, 2 * math.pi)
        sun_dir = (math.cos(elev) * math.sin(azim), -math.sin(elev),
                   math.cos(elev) * math.cos(azim))
        overcast = rng.random() < 0.2
        strength = rng.uniform(0.0, 0.3) if overcast else rng.uniform(1.2, 2.6)
        warm = rng.uniform(0.0, 0.15) * (1.2 - elev)
        sun = tuple(float(strength * c) for c in (1.0, 1.0 - 0.4 * warm, 1.0 - warm))
        pano = int(rng.integers(len(lib.skies)))
        mean = lib.skies[pano][: lib.skies[pano].shape[0] // 2].reshape(-1, 3).mean(0)
        mean = mean / max(float(mean.mean()), 1e-3)
        level = rng.uniform(0.35, 0.6) * (1.6 if overcast else 1.0)
        sky = tuple(float(level * (0.5 + 0.5 * c)) for c in mean)
        tile = [lib.groups[g][rng.integers(len(lib.groups[g]))]
                for g in ('asphalt', 'paving', 'paving', 'verge')]
        return SunSky(sun_dir, sun, sky, pano, float(rng.uniform(0, 2 * math.pi)),
                      float(rng.uniform(1.0, 2.0)), tuple(int(t) for t in tile))

    @property
    def brightness(self) -> float:
        """Light on a sunlit ground point, mean over channels (for the exposure)."""
        return float(np.mean(self.sky) + np.mean(self.sun) * -self.sun_dir[1])


class PhotoShader(Shader):
    """A `Shader` whose surfaces are photo-textured and whose output is linear radiance."""

    def __init__(self, *args, light: SunSky, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.light = light
        self.sun_dir = np.array(light.sun_dir, np.float32)

    def ground_colour(self, s, d, along, across, pix, tex):
        sec = self.section
        ad = np.abs(d)
        fp = np.maximum(along, across)
        road = np.clip((ad - sec.kerb) / across + 0.5, 0.0, 1.0)  # 0 on the road
        walk = np.clip((ad - sec.kerb - KERB_WIDTH) / across + 0.5, 0.0, 1.0)
        verge = np.clip((ad - sec.building_line) / across + 0.5, 0.0, 1.0)
        weights = (1.0 - road, road - walk, walk - verge, verge)
        color = np.zeros((3, len(s)), np.float32)
        for weight, tile in zip(weights, self.light.tiles, strict=True):
            pick = np.flatnonzero(weight > 0)
            if len(pick):
                color[:, pick] += weight[pick] * photo.sample(
                    np.full(len(pick), tile), tex[0][pick], tex[1][pick], fp[pick])
        near, paint = markings(s, ad, along, across, sec.carriageway, sec.lane_width, sec.lanes)
        if len(near):
            paint *= weights[0][near]
            color[:, near] += paint * (PAINT[:, None] - color[:, near])
        return color, np.full(len(s), 0.25, np.float32)

    def box_colour(self, u, v, fp, g, top):
        color = g['color']
        material = g['material'][0].astype(np.int32)
        textured = np.flatnonzero(material >= 0)
        base = color.copy()
        if len(textured):
            tint = color[:, textured]
            tint = (0.6 + 0.4 * tint) / (0.6 + 0.4 * tint.mean(0))
            base[:, textured] = tint * photo.sample(
                material[textured], u[textured] + g['tex'][0, textured],
                v[textured] + g['tex'][1, textured], fp[textured])
        patterned = box_albedo(u, v, fp, base, g['color2'], g['pattern'], g['mean'])
        return patterned + top * (base - patterned)

    def face_light(self, normals, face, pix, out):
        n = normals.reshape(-1, 3)[face].astype(np.float32)  # (k, 3) per pixel
        out.light[pix] = np.maximum(n @ self.sun_dir, 0.0)  # sun term; sky term below
        out.sky_view[pix] = np.float32(0.65) + np.float32(0.35) * -n[:, 1]

    def radiance(self, depth: np.ndarray, ids: np.ndarray, pose: np.ndarray, cam_s: float,
                 cam_from_box: np.ndarray, box_to_world: np.ndarray, boxes: BoxTable,
                 look_back: bool, ground_y: float) -> np.ndarray:
        """(H, W, 3) float32 linear radiance (arguments as `Shader.image`; ground_y: the
        ground plane's road-world y)."""
        h, w = self.height, self.width
        n = h * w
        out = self.surfaces(depth, ids, pose, cam_s, cam_from_box, box_to_world, boxes,
                            look_back)
        ids = ids.reshape(-1)
        ground = ids == GROUND
        sun_term, sky_term = out.light, out.sky_view
        if ground.any():
            intr = self.intrinsics
            cam_from_world = np.linalg.inv(pose)
            lit = np.ones(n, np.float32)
            if self.light.sun[0] > 0:
                lit -= ground_shadow(intr, w, h, cam_from_world, box_to_world, boxes.half,
                                     self.sun_dir, ground_y).reshape(-1)
            under = ground_shadow(intr, w, h, cam_from_world, box_to_world, boxes.half,
                                  np.array([0.0, -1.0, 0.0]), ground_y).reshape(-1)
            sun_term = np.where(ground, -self.sun_dir[1] * lit, sun_term)
            sky_term = np.where(ground, 1.0 - 0.6 * under, sky_term)
        shape = (h, w)
        noise = self.textures.noise(out.tex[0].reshape(shape), out.tex[1].reshape(shape),
                                    out.footprint.reshape(shape)).reshape(-1)
        noise *= out.amp
        noise += np.float32(1.0)
        rgb = np.empty((n, 3), np.float32)
        for c in range(3):
            rgb[:, c] = out.albedo[c] * noise * (np.float32(self.light.sun[c]) * sun_term
                                                 + np.float32(self.light.sky[c]) * sky_term)
        sky = np.flatnonzero(ids < GROUND)
        if len(sky):
            rot = pose[:3, :3].astype(np.float32)
            rx, ry = self.ray_x[sky], self.ray_y[sky]
            dx = rot[0, 0] * rx + rot[0, 1] * ry + rot[0, 2]
            dy = rot[1, 0] * rx + rot[1, 1] * ry + rot[1, 2]
            dz = rot[2, 0] * rx + rot[2, 1] * ry + rot[2, 2]
            elevation = np.arcsin(np.clip(-dy / self.ray_len[sky], -1.0, 1.0))
            azimuth = np.arctan2(dx, dz) + np.float32(self.light.heading)
            level = np.float32(self.light.sky_gain * self.light.brightness)
            rgb[sky] = photo.sky(self.light.panorama, azimuth, elevation).T * level
        # Normalised so that a sunlit surface of albedo a gives about a (auto exposure).
        rgb *= np.float32(1.0 / self.light.brightness)
        return rgb.reshape(h, w, 3)

