"""Evaluation: metrics, offline and live (through rmdepth_node) bag replay, reports and plots."""
