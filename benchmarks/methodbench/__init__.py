"""The method benchmark behind benchmarks/methods.py (its command line):

presets.py   what is compared: methods, budget, presets, paths
costs.py     wall-time estimate from token counts (and --measure)
machine.py   speed probe and hardware summary
runner.py    one run (train, evaluate, record) and a whole preset (records reused, time limit)
report.py    aggregation, the papers' claims, docs/results.md sections
"""
