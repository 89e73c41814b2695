"""Trivial and classical reference methods that every evaluation reports beside the system.

numpy / OpenCV only (no torch). Each baseline produces the same kind of output as the estimator
(docs/conventions.md), so the same metrics score it on the same frames and pixels:
depth (`depth`), camera motion (`motion`, `classical_vo`), flow (`flow`), masks (`masks`).
`runner.BaselineRunner` runs them all beside an evaluation session.
"""
