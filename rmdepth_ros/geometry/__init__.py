"""Geometry at test time: what a moving camera measures by parallax, beside the networks.

numpy / OpenCV only, no torch: arrays in, arrays out. One concept a file:

- `rotations`: small helpers on rotation matrices shared by motion and evaluation.
- `dense_flow`: OpenCV DIS optical flow in the project's convention, with a consistency check.
- `triangulation`: per-pixel inverse depth from flow and camera motion, with its uncertainty.
- `depth_filter`: the per-pixel inverse-depth filter, the estimator's recurrent state.
- `densify`: the network's depth corrected by a scale field spread from measured pixels.
- `moving_mask`: independently moving pixels from flow against the rigid flow.
- `depth_from_motion`: one frame through all of the above (`DepthFromMotion.step`).

Conventions (units, frames, flow sign) are those of docs/conventions.md; the algorithm and
its measured costs are in docs/depth_from_motion.md.
"""
