"""Plots and comparison tables from archsim results files (`python -m analysis all ...`).

This package reads only results files (summary.json, layers.csv, sweep tables, resource
reports, analysis/published.yaml); it never imports archsim or recomputes a figure.
"""
