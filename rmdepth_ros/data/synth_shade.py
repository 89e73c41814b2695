"""Shading: turns a rendered depth / surface-id image into an RGB image.

Ground pixels are coloured from road coordinates (markings, kerb, sidewalk, verge) and
road-world coordinates (noise); box pixels from the box's face coordinates; both are lit by the
sequence's `Lighting` (per-face Lambertian, no shadows). The sky is a gradient over the
elevation of the road-world ray, so it moves with camera rotation only, like a sky at infinity.
"""

from __future__ import annotations

import numpy as np

from rmdepth_ros.data.synth_render import GROUND
from rmdepth_ros.data.synth_road import CrossSection, Road
from rmdepth_ros.data.synth_texture import (GROUND_PERIOD, S_PERIOD, Lighting, Textures,
                                            box_albedo, ground_albedo)
from rmdepth_ros.data.synth_world import BoxTable

_FACE_SIGNS = np.array([-1.0, 1.0] * 3)


class Shader:
    """Colours frames of one sequence; holds only per-sequence constants."""

    def __init__(self, intrinsics: np.ndarray, rays: np.ndarray, road: Road,
                 section: CrossSection, lighting: Lighting, textures: Textures) -> None:
        self.fx = float(intrinsics[0, 0])
        self.rays = rays.reshape(-1, 3)  # (H*W, 3) float32, unit z, camera frame
        self.ray_len = np.linalg.norm(self.rays, axis=1).astype(np.float32)
        self.road, self.section, self.lighting, self.textures = road, section, lighting, textures

    def image(self, depth: np.ndarray, ids: np.ndarray, pose: np.ndarray, cam_s: float,
              cam_from_box: np.ndarray, box_to_world: np.ndarray, boxes: BoxTable) -> np.ndarray:
        """(H, W, 3) uint8 RGB.

        depth, ids: the render (synth_render.Raycaster.render); pose: (4, 4) camera-to-road-
        world; cam_s: camera arc length, metres; cam_from_box, box_to_world: (N, 4, 4) at this
        frame; boxes: the N boxes' appearance.
        """
        height, width = depth.shape
        n = height * width
        ids = ids.reshape(-1)
        albedo = np.zeros((n, 3), np.float32)
        amp = np.zeros(n, np.float32)
        light = np.ones(n, np.float32)
        tex_u = np.zeros(n, np.float32)
        tex_v = np.zeros(n, np.float32)
        footprint = np.full(n, 1e6, np.float32)

        ground = np.flatnonzero(ids == GROUND)
        if len(ground):
            self._ground(ground, depth.reshape(-1)[ground], pose, cam_s, albedo, amp, light,
                         tex_u, tex_v, footprint)
        hit = np.flatnonzero(ids > GROUND)
        if len(hit):
            self._boxes(hit, ids[hit] - 1, depth.reshape(-1)[hit], cam_from_box, box_to_world,
                        boxes, albedo, amp, light, tex_u, tex_v, footprint)
        noise = self.textures.noise(tex_u.reshape(height, width), tex_v.reshape(height, width),
                                    footprint.reshape(height, width)).reshape(-1)
        scale = light * (1.0 + amp * noise)
        rgb = albedo * scale[:, None]
        sky = np.flatnonzero(ids < GROUND)
        if len(sky):
            world = self.rays[sky] @ pose[:3, :3].T.astype(np.float32)
            up = np.clip(-world[:, 1] / np.linalg.norm(world, axis=1) * 2.5, 0.0, 1.0)
            horizon = np.array(self.lighting.sky_horizon, np.float32)
            zenith = np.array(self.lighting.sky_zenith, np.float32)
            rgb[sky] = horizon + (zenith - horizon) * up[:, None]
        rgb *= np.array(self.lighting.tint, np.float32) * 255.0
        np.clip(rgb, 0.0, 255.0, out=rgb)
        return rgb.astype(np.uint8).reshape(height, width, 3)

    def _ground(self, pix, depth, pose, cam_s, albedo, amp, light, tex_u, tex_v, footprint):
        rays = self.rays[pix]
        rot = pose[:3, :3].astype(np.float32)
        rel = (rays * depth[:, None]) @ rot.T  # (n, 3) road-world offsets from the camera
        cam_x, cam_z = float(pose[0, 3]), float(pose[2, 3])
        s, d = self.road.road_coords(rel[:, 0], rel[:, 2], (cam_x, cam_z, cam_s),
                                     (cam_s - 50.0, cam_s + 400.0))
        s += np.float32(cam_s % S_PERIOD)
        dist = depth * self.ray_len[pix]
        cos = np.abs(rays @ rot[1]) / self.ray_len[pix]  # incidence on the ground plane
        across = dist / np.float32(self.fx)
        along = across / np.maximum(cos, 1e-3)
        sec = self.section
        color, a = ground_albedo(s, d, along, across, sec.carriageway, sec.lane_width,
                                 sec.lanes, sec.kerb, sec.building_line)
        albedo[pix], amp[pix] = color, a
        light[pix] = self.lighting.shade(np.array([0.0, -1.0, 0.0]))
        tex_u[pix] = rel[:, 0] + np.float32(cam_x % GROUND_PERIOD)
        tex_v[pix] = rel[:, 2] + np.float32(cam_z % GROUND_PERIOD)
        footprint[pix] = along

    def _boxes(self, pix, k, depth, cam_from_box, box_to_world, boxes, albedo, amp, light,
               tex_u, tex_v, footprint):
        rays = self.rays[pix]
        rot = cam_from_box[:, :3, :3]
        origin = -np.einsum('nji,nj->ni', rot, cam_from_box[:, :3, 3])  # camera, box frame
        # Per box: rows of R^T and the camera origin, gathered once per pixel.
        table = np.concatenate([rot.transpose(0, 2, 1).reshape(-1, 9), origin], 1)
        g = table.astype(np.float32)[k]  # (n, 12)
        p = rays * depth[:, None]  # (n, 3) camera frame
        local = np.stack([p[:, 0] * g[:, 3 * a] + p[:, 1] * g[:, 3 * a + 1]
                          + p[:, 2] * g[:, 3 * a + 2] + g[:, 9 + a] for a in range(3)], 1)
        half = boxes.half.astype(np.float32)[k]  # (n, 3)
        ratio = np.abs(local) / half
        axis = np.argmax(ratio, axis=1)
        face = axis * 2 + (np.take_along_axis(local, axis[:, None], 1)[:, 0] > 0)
        x_face, y_face = axis == 0, axis == 1
        corner = local + half  # metres from the box's min corner (top, since y is down)
        u = np.where(x_face, corner[:, 2], corner[:, 0])
        v = np.where(y_face, corner[:, 2], corner[:, 1])
        # Face normals (N, 6, 3) in the camera and road-world frames.
        normals_cam = np.repeat(rot.transpose(0, 2, 1), 2, axis=1) * _FACE_SIGNS[None, :, None]
        normals_world = np.repeat(box_to_world[:, :3, :3].transpose(0, 2, 1), 2, axis=1) \
            * _FACE_SIGNS[None, :, None]
        cos = np.abs(np.einsum('ni,ni->n', normals_cam.astype(np.float32)[k, face], rays))
        cos /= self.ray_len[pix]
        fp = depth * self.ray_len[pix] / np.float32(self.fx) / np.maximum(cos, 0.1)
        albedo[pix] = box_albedo(u, v, ~y_face, fp, boxes.color[k], boxes.color2[k],
                                 boxes.pattern[k])
        amp[pix] = boxes.noise[k]
        light[pix] = self.lighting.shade(normals_world).astype(np.float32)[k, face]
        tex_u[pix] = u + boxes.tex[k, 0]
        tex_v[pix] = v + boxes.tex[k, 1]
        footprint[pix] = fp
