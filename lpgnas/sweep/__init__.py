"""``lpgnas sweep``: grids of lpgnas commands (searches, baselines, training, flows, verification, synthesis)
run as Ray tasks, one run folder per grid point, resumable, with a report built from the results.

``spec`` reads and checks a sweep spec (TOML) into grid points, ``methods`` says which lpgnas commands a
point runs and what its result is, ``runner`` runs the points on Ray, ``report`` turns ``results.json``
into tables and plots, ``cli`` is the command line. docs/sweep.md describes the spec and the run folders.
"""
