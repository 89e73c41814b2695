"""Shading: turns a rendered depth / surface-id image into an RGB image.

Ground pixels are coloured from road coordinates (markings, kerb, sidewalk, verge) and
road-world coordinates (noise); box pixels from the box's face coordinates; both are lit by the
sequence's `Lighting` (per-face Lambertian, no shadows). The sky is a gradient over the
elevation of the road-world ray, so it moves with camera rotation only, like a sky at infinity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmdepth_ros.synth.boxes import BoxTable
from rmdepth_ros.synth.render import GROUND
from rmdepth_ros.synth.road import CrossSection, Road
from rmdepth_ros.synth.texture import (
    GROUND_PERIOD,
    S_PERIOD,
    Lighting,
    Textures,
    box_albedo,
    ground_albedo,
)

_FACE_SIGNS = np.array([-1.0, 1.0] * 3)
FILTER = np.float32(1.0)  # texture detail is band-limited to this many pixels


def gather_runs(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """table[:, index] for (R, N) `table`, fast when `index` comes in long runs (image rows)."""
    change = np.flatnonzero(index[1:] != index[:-1]) + 1
    starts = np.concatenate([[0], change])
    counts = np.diff(np.concatenate([starts, [len(index)]]))
    return np.repeat(table[:, index[starts]], counts, axis=1)


@dataclass
class _Surfaces:
    """Per-pixel surface properties of one frame, flattened (n = H * W), float32: albedo
    (3, n) linear RGB, noise amplitude (n,), light (n,) Lambertian factor (the sun's alone in
    the photo look), tex (2, n) noise coordinates in metres, footprint (n,) metres per pixel,
    sky_view (n,)."""

    albedo: np.ndarray
    amp: np.ndarray
    light: np.ndarray
    tex: np.ndarray
    footprint: np.ndarray
    sky_view: np.ndarray  # (n,) share of sky light reaching the surface (photo look)

    @staticmethod
    def empty(n: int) -> _Surfaces:
        return _Surfaces(np.zeros((3, n), np.float32), np.zeros(n, np.float32),
                         np.ones(n, np.float32), np.zeros((2, n), np.float32),
                         np.full(n, 1e6, np.float32), np.ones(n, np.float32))


class Shader:
    """Colours frames of one sequence; holds only per-sequence constants."""

    def __init__(self, intrinsics: np.ndarray, width: int, height: int, road: Road,
                 section: CrossSection, lighting: Lighting, textures: Textures) -> None:
        self.fx = np.float32(intrinsics[0, 0])
        self.intrinsics = np.asarray(intrinsics, np.float64)
        self.width, self.height = width, height
        self.ray_x = np.tile(((np.arange(width) - intrinsics[0, 2]) / intrinsics[0, 0])
                             .astype(np.float32), height)  # (H*W,), ray z is 1
        self.ray_y = np.repeat(((np.arange(height) - intrinsics[1, 2]) / intrinsics[1, 1])
                               .astype(np.float32), width)
        self.ray_len = np.sqrt(self.ray_x ** 2 + self.ray_y ** 2 + 1.0)
        self.road, self.section, self.lighting, self.textures = road, section, lighting, textures
        self.ground_light = np.float32(lighting.shade(np.array([0.0, -1.0, 0.0])))

    def image(self, depth: np.ndarray, ids: np.ndarray, pose: np.ndarray, cam_s: float,
              cam_from_box: np.ndarray, box_to_world: np.ndarray, boxes: BoxTable,
              look_back: bool = False) -> np.ndarray:
        """(H, W, 3) uint8 RGB.

        depth, ids: the render (synth_render.Raycaster.render); pose: (4, 4) camera-to-road-
        world; cam_s: camera arc length, metres; cam_from_box, box_to_world: (N, 4, 4) at this
        frame; boxes: the N boxes' appearance; look_back: the camera may see the road far behind
        its arc length (it looks off the road's forward direction), so mark that road too.
        """
        out = self.surfaces(depth, ids, pose, cam_s, cam_from_box, box_to_world, boxes,
                            look_back)
        n = self.width * self.height
        ids = ids.reshape(-1)
        shape = (self.height, self.width)
        noise = self.textures.noise(out.tex[0].reshape(shape), out.tex[1].reshape(shape),
                                    out.footprint.reshape(shape)).reshape(-1)
        noise *= out.amp
        noise += np.float32(1.0)
        noise *= out.light
        albedo = out.albedo
        sky = np.flatnonzero(ids < GROUND)
        if len(sky):
            rot = pose[:3, :3].astype(np.float32)
            rx, ry = self.ray_x[sky], self.ray_y[sky]
            up = -(rot[1, 0] * rx + rot[1, 1] * ry + rot[1, 2]) / self.ray_len[sky]
            up = np.clip(up * np.float32(2.5), 0.0, 1.0)
        rgb = np.empty((n, 3), np.uint8)
        for c in range(3):
            channel = albedo[c]
            channel *= noise
            if len(sky):
                horizon = self.lighting.sky_horizon[c]
                channel[sky] = up * np.float32(self.lighting.sky_zenith[c] - horizon) + horizon
            channel *= np.float32(self.lighting.tint[c] * 255.0)
            rgb[:, c] = np.clip(channel, 0.0, 255.0, out=channel)
        return rgb.reshape(self.height, self.width, 3)

    def surfaces(self, depth: np.ndarray, ids: np.ndarray, pose: np.ndarray, cam_s: float,
                 cam_from_box: np.ndarray, box_to_world: np.ndarray, boxes: BoxTable,
                 look_back: bool = False) -> _Surfaces:
        """Per-pixel surface properties of the ground and box pixels (arguments of `image`)."""
        n = self.width * self.height
        ids = ids.reshape(-1)
        depth = depth.reshape(-1)
        out = _Surfaces.empty(n)
        ground = np.flatnonzero(ids == GROUND)
        if len(ground):
            self._ground(ground, depth[ground], pose, cam_s, out, 300.0 if look_back else 20.0)
        hit = np.flatnonzero(ids > GROUND)
        if len(hit):
            self._boxes(hit, ids[hit] - 1, depth[hit], cam_from_box, box_to_world, boxes, out)
        return out

    def ground_colour(self, s: np.ndarray, d: np.ndarray, along: np.ndarray,
                      across: np.ndarray, pix: np.ndarray,
                      tex: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Albedo (3, n) and noise amplitude (n,) of ground pixels `pix` at road coordinates
        (s, d) with footprints along / across the road and world texture coordinates `tex`."""
        sec = self.section
        return ground_albedo(s, d, along, across, sec.carriageway, sec.lane_width, sec.lanes,
                             sec.kerb, sec.building_line)

    def box_colour(self, u: np.ndarray, v: np.ndarray, fp: np.ndarray, g: dict,
                   top: np.ndarray) -> np.ndarray:
        """Albedo (3, n) of box pixels at face coordinates u, v with footprint fp; g: the
        boxes' per-pixel properties (rows of `BoxTable`); top: 1 on top / bottom faces."""
        color = g['color']
        patterned = box_albedo(u, v, fp, color, g['color2'], g['pattern'], g['mean'])
        return patterned + top * (color - patterned)  # no pattern on top and bottom faces

    def face_light(self, normals: np.ndarray, face: np.ndarray, pix: np.ndarray,
                   out: _Surfaces) -> None:
        """Fill out.light at box pixels `pix` lit through faces `face` of road-world
        face normals (N, 6, 3)."""
        out.light[pix] = self.lighting.shade(normals).astype(np.float32).reshape(-1)[face]

    def _ground(self, pix: np.ndarray, depth: np.ndarray, pose: np.ndarray, cam_s: float,
                out: _Surfaces, behind: float) -> None:
        """Fill `out` at ground pixels `pix` (flat indices) of depth `depth` (metres)."""
        rot = pose[:3, :3].astype(np.float32)
        rx, ry = self.ray_x[pix] * depth, self.ray_y[pix] * depth
        # Road-world offsets of the ground points from the camera.
        qx = rx * rot[0, 0] + ry * rot[0, 1] + depth * rot[0, 2]
        qz = rx * rot[2, 0] + ry * rot[2, 1] + depth * rot[2, 2]
        cam_x, cam_z = float(pose[0, 3]), float(pose[2, 3])
        s, d = self.road.road_coords(qx, qz, (cam_x, cam_z, cam_s),
                                     (cam_s - behind, cam_s + 300.0))
        s += np.float32(cam_s % S_PERIOD)
        # Footprint: `base` across the view ray, stretched along it by the grazing incidence;
        # its extent along and across the road (taken as the camera's heading).
        ray_len = self.ray_len[pix]
        base = depth * ray_len * (FILTER / self.fx)
        height = np.abs(rx * rot[1, 0] + ry * rot[1, 1] + depth * rot[1, 2])
        stretch = depth * ray_len / np.maximum(height, 1e-3)
        sin2 = rx * rx / (rx * rx + depth * depth)  # lateral part of the view direction
        stretch *= stretch
        stretch -= 1.0
        along = base * np.sqrt(1.0 + stretch * (1.0 - sin2))
        across = base * np.sqrt(1.0 + stretch * sin2)
        tex = (qx + np.float32(cam_x % GROUND_PERIOD), qz + np.float32(cam_z % GROUND_PERIOD))
        color, a = self.ground_colour(s, d, along, across, pix, tex)
        along = np.maximum(along, across)
        for c in range(3):
            out.albedo[c, pix] = color[c]
        out.amp[pix] = a
        out.light[pix] = self.ground_light
        out.tex[0, pix], out.tex[1, pix] = tex
        out.footprint[pix] = along

    def _boxes(self, pix: np.ndarray, k: np.ndarray, depth: np.ndarray,
               cam_from_box: np.ndarray, box_to_world: np.ndarray, boxes: BoxTable,
               out: _Surfaces) -> None:
        """Fill `out` at pixels `pix` (flat indices) that hit boxes `k` at depth `depth`."""
        n_box = len(boxes)
        k = k.astype(np.int32)
        rot = cam_from_box[:, :3, :3]  # (N, 3, 3) box -> camera
        origin = -np.einsum('nji,nj->ni', rot, cam_from_box[:, :3, 3])  # camera, box frame
        # Per-box values gathered per pixel in one go.
        blocks = {'rt': rot.transpose(0, 2, 1).reshape(n_box, 9), 'origin': origin,
                  'half': boxes.half, 'inv_half': 1.0 / boxes.half, 'noise': boxes.noise[:, None],
                  'tex': boxes.tex, 'color': boxes.color, 'color2': boxes.color2,
                  'pattern': boxes.pattern, 'mean': boxes.pattern_mean,
                  'material': boxes.material[:, None]}
        rows, start = {}, 0
        for name, block in blocks.items():
            rows[name] = slice(start, start + block.shape[1])
            start += block.shape[1]
        g = gather_runs(np.concatenate(list(blocks.values()), 1).T.astype(np.float32), k)
        rt, o, half, inv_half = g[rows['rt']], g[rows['origin']], g[rows['half']], \
            g[rows['inv_half']]
        px, py = self.ray_x[pix] * depth, self.ray_y[pix] * depth
        # Local hit coordinates l = R^T p + origin, and their ratio to the half extents.
        local = [px * rt[3 * a] + py * rt[3 * a + 1] + depth * rt[3 * a + 2] + o[a]
                 for a in range(3)]
        ratio = [np.abs(local[a]) * inv_half[a] for a in range(3)]
        lx, ly, lz = local
        is_x = (ratio[0] >= ratio[1]) & (ratio[0] >= ratio[2])
        is_y = ~is_x & (ratio[1] >= ratio[2])
        fx_, fy_ = is_x.astype(np.float32), is_y.astype(np.float32)
        u = lx + half[0]
        u += fx_ * (lz + half[2] - u)  # along the face: z on x faces, x on y and z faces
        v = ly + half[1]
        v += fy_ * (lz + half[2] - v)  # down the face; z on top and bottom faces
        # Which of the 6 faces, and the local ray component along its normal (incidence).
        along = [local[a] - o[a] for a in range(3)]
        normal = along[2] + fx_ * (along[0] - along[2]) + fy_ * (along[1] - along[2])
        chosen = lz + fx_ * (lx - lz) + fy_ * (ly - lz)
        face = k * np.int32(6) + np.where(is_x, 0, np.where(is_y, 2, 4)).astype(np.int32)
        face += chosen > 0
        dist = depth * self.ray_len[pix]
        cos = np.abs(normal) / dist
        fp = dist * (FILTER / self.fx) / np.maximum(cos, np.float32(0.1))
        props = {name: g[rows[name]] for name in ('color', 'color2', 'pattern', 'mean', 'tex',
                                                  'material')}
        out.amp[pix] = g[rows['noise']][0]
        out.tex[0, pix] = u + props['tex'][0]
        out.tex[1, pix] = v + props['tex'][1]
        out.footprint[pix] = fp
        out.albedo[:, pix] = self.box_colour(u, v, fp, props, fy_)
        normals = np.repeat(box_to_world[:, :3, :3].transpose(0, 2, 1), 2, axis=1) \
            * _FACE_SIGNS[None, :, None]  # (N, 6, 3) road-world face normals
        self.face_light(normals, face, pix, out)
